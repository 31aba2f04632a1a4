"""``python -m benchmarks``, from the repository root: see ``benchmarks.runner``.

No ``sys.path`` edit: ``python -m`` puts the current folder first on ``sys.path``, so from the
root both ``benchmarks`` and the test harness in ``tests`` import as they are.
"""

from __future__ import annotations

<<<<<<< HEAD
import sys
from pathlib import Path

# The runner imports the test helpers (``tests.lib.s3servers`` ...) and the project itself, so the
# repository root must be importable wherever the command is started from.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from benchmarks.runner import main  # noqa: E402
=======
from benchmarks.runner import main
>>>>>>> h-bench

if __name__ == "__main__":
    raise SystemExit(main())
