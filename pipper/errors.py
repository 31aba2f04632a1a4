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
    """A bucket, a package or a version does not exist."""

    exit_code = 3


class ResolutionError(PipperError):
    """No set of versions satisfies every constraint of the graph."""

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
    """The installer (pip or uv) failed; its exit code becomes pipper's."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
