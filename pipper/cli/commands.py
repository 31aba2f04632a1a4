"""The Typer app with every command registered (tests and tools that walk the whole tree).

The ``pipper`` script does not import this: its root loads the one command it runs
(``registry``).
"""

from __future__ import annotations

from pipper.cli.base import app
from pipper.cli.registry import import_all

import_all()

__all__ = ["app"]
