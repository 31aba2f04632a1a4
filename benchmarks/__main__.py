"""``python -m benchmarks``, from the repository root: see ``benchmarks.runner``.

No ``sys.path`` edit: ``python -m`` puts the current folder first on ``sys.path``, so from the
root both ``benchmarks`` and the test harness in ``tests`` import as they are.
"""

from __future__ import annotations

from benchmarks.runner import main

if __name__ == "__main__":
    raise SystemExit(main())
