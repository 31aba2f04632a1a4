"""What keeps a test away from the developer's own AWS account and pipper setup.

The fixtures in ``tests/conftest.py`` apply these; tests import ``PipperHome`` from here to type
the fixture they receive.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LEAKY_AWS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_REGION",
    "AWS_ENDPOINT_URL_S3",
    "AWS_CA_BUNDLE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)
"""Variables that would point a test at a real account."""

PIPPER_DIRS = ("PIPPER_HOME", "PIPPER_CACHE_DIR", "PIPPER_DATA_DIR")
KEPT_PIPPER_VARS = ("PIPPER_TEST_S3",)
"""The one ``PIPPER_*`` variable a test run is steered by rather than isolated from."""

TEST_SETTINGS = {
    # A log (which stderr is here) gets a line per phase; the tests of those lines ask for them.
    "PIPPER_NO_PROGRESS": "1",
    "PIPPER_RETRY_BACKOFF": "0.001",
}
"""What every test runs with: retries in rounds as usual, but without the pauses between them
that give a real store time to recover, so a store that never does fails fast."""


@dataclass(frozen=True)
class PipperHome:
    """The per-test pipper home, cache and data folders the environment points at."""

    home: Path
    cache_dir: Path
    data_dir: Path
