"""The errors pipper raises on purpose.

Every failure a user can cause or meet (bad input, a missing package, a refused request) is a
``PipperError``. The command line turns one into a single line on stderr and the class's exit
code, so scripts can tell the failures apart. Anything else is a bug and shows a traceback only
under ``--debug``.
"""

from __future__ import annotations


class PipperError(Exception):
    """Base class: a message for the user and the exit code that goes with it."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(PipperError):
    """The command line or an input file asks for something malformed."""

    exit_code = 2


class ConfigError(UsageError):
    """The saved repositories file or an option combination is unusable."""


class NotFoundError(PipperError):
    """A bucket, a package, a saved repository or an object does not exist.

    A version is "not found" only where a recorded one is gone (a lock's bundle, a key). A
    version asked for that was never published (``NAME==9.9``) is a constraint nothing
    satisfies, the same failure as ``NAME>=9``: a ``ResolutionError``.
    """

    exit_code = 3


class ResolutionError(PipperError):
    """No set of versions satisfies every constraint of the graph (a pin to a version that was
    never published included)."""

    exit_code = 4


class AccessDeniedError(PipperError):
    """The store refused the credentials or the operation."""

    exit_code = 5


class NetworkError(PipperError):
    """The endpoint could not be reached, or kept failing after retries."""

    exit_code = 6


class BundleError(PipperError):
    """A ``.pipper`` file (or a wheel inside it) is malformed or hostile."""

    exit_code = 7


class IntegrityError(BundleError):
    """Bytes do not match the sha256 they were published or cached with."""


class VersionExistsError(PipperError):
    """Publishing would overwrite a version that is already in the repository."""

    exit_code = 8


class OfflineError(PipperError):
    """``--offline`` needs something the cache does not hold."""

    exit_code = 9


class InstallError(PipperError):
    """The installer (pip or uv) failed.

    One code whatever the installer's own was: passed through, pip's 2 and 3 would read as
    pipper's "usage" and "not found". The installer's code is kept in ``installer_exit_code``;
    the message names it and ``install --json`` reports it.
    """

    exit_code = 10

    def __init__(self, message: str, installer_exit_code: int) -> None:
        super().__init__(message)
        self.installer_exit_code = installer_exit_code


class BuildError(PipperError):
    """Building a project's wheel failed (``pipper bundle``): the project is at fault, not a
    bundle, so this is not a ``BundleError``."""

    exit_code = 11


class IndexDifferenceError(PipperError):
    """The repository's simple index differs from its bundles (``pipper index check``)."""

    exit_code = 12
