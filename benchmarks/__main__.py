"""``python -m benchmarks``: see ``benchmarks.runner`` for the options."""

from __future__ import annotations

import sys
from pathlib import Path

# The runner imports the test helpers (``tests.lib.s3servers`` ...) and the project itself, so the
# repository root must be importable wherever the command is started from.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from benchmarks.runner import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
