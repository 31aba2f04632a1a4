"""The options that say which wheel of each version a command chooses: pip download's spellings.

``--platform``, ``--python-version``, ``--implementation`` and ``--abi`` describe another
machine (vendoring for a macOS laptop from a Linux CI box); ``--all-platforms`` takes every
wheel. Without them the wheels are chosen for the graph's interpreter (``--python``, the active
virtual environment, else pipper's own), as ``pip install`` would choose them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from pipper.platforms import TargetSpec

_PANEL = "Platform (which wheel of each version)"

PlatformOption = Annotated[
    list[str] | None,
    typer.Option(
        "--platform",
        metavar="TAG",
        help="Choose wheels for this platform (macosx_11_0_arm64, manylinux_2_17_x86_64, "
        "win_amd64); repeat it for several. (default: this machine's)",
        rich_help_panel=_PANEL,
        show_default=False,
    ),
]
PythonVersionOption = Annotated[
    str | None,
    typer.Option(
        "--python-version",
        metavar="X.Y",
        help="Choose wheels for this Python version (3.12, or 312). (default: the graph's "
        "interpreter's)",
        rich_help_panel=_PANEL,
        show_default=False,
    ),
]
ImplementationOption = Annotated[
    str | None,
    typer.Option(
        "--implementation",
        metavar="IMPL",
        help="Choose wheels for this Python implementation: cp (CPython), pp (PyPy) or py "
        "(any). (default: the running one's)",
        rich_help_panel=_PANEL,
        show_default=False,
    ),
]
AbiOption = Annotated[
    list[str] | None,
    typer.Option(
        "--abi",
        metavar="ABI",
        help="Choose wheels for this ABI (cp312, abi3, none); repeat it for several. "
        "(default: the implementation's own)",
        rich_help_panel=_PANEL,
        show_default=False,
    ),
]
AllPlatformsOption = Annotated[
    bool,
    typer.Option(
        "--all-platforms",
        help="Take every wheel of each chosen version, for every platform (a vendor folder "
        "for several machines).",
        rich_help_panel=_PANEL,
    ),
]


def target_from(
    python: Path | None = None,
    platforms: list[str] | None = None,
    python_version: str | None = None,
    implementation: str | None = None,
    abis: list[str] | None = None,
    all_platforms: bool = False,
) -> TargetSpec:
    """The target the options name; bad spellings are usage errors before any request."""
    from pipper.install import target_python
    from pipper.platforms import target_spec

    return target_spec(
        target_python(python),
        platforms=platforms or (),
        python_version=python_version,
        implementation=implementation,
        abis=abis or (),
        all_platforms=all_platforms,
    )
