"""``pipper authorize``: presigned GET URLs for a resolved graph, for jobs with no credentials.

The output is the original's: ``{"dependencies": [url, ...]}``, a file ``pipper download -i`` and
``pipper install -i`` read like any input file. ``--find-links PAGE`` writes, instead or as well,
an HTML page of presigned wheel URLs from the simple index, for ``pip install --find-links PAGE``.
A URL is a bearer secret until it expires, so it is only ever written to the output, never to a
message.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pipper.cli.base import app
from pipper.cli.options import (
    CacheDirOption,
    ConcurrencyOption,
    DevOption,
    IdsArgument,
    InputOption,
    PreOption,
    context,
    with_repository,
)
from pipper.cli.output import error, info
from pipper.errors import UsageError

if TYPE_CHECKING:
    from pipper.context import RepositoryOptions
    from pipper.models import RunResult
    from pipper.run import Run

MAX_EXPIRY = 7 * 24 * 3600
"""S3 refuses a SigV4 presigned URL valid for longer than seven days."""

_EXPIRY = re.compile(r"([0-9]{1,12})\s*([smhd]?)", re.IGNORECASE | re.ASCII)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_expiry(text: str) -> int:
    """``30s``, ``15m``, ``2h``, ``7d`` or plain seconds, as a number of seconds (1 s to 7 days)."""
    match = _EXPIRY.fullmatch(text.strip())
    if match is None:
        raise UsageError(
            f"--expires {text.strip()[:40]!r} is not a duration: use seconds, or a number "
            "with s, m, h or d (30s, 15m, 2h, 7d)"
        )
    seconds = int(match.group(1)) * _UNITS[match.group(2).lower()]
    if seconds < 1:
        raise UsageError("--expires must be at least one second")
    if seconds > MAX_EXPIRY:
        raise UsageError(
            f"--expires {text.strip()} is too long: S3 allows at most 7 days (7d, {MAX_EXPIRY} s)"
        )
    return seconds


def _signed_with_a_session(url: str) -> bool:
    """A SigV4 URL signed with temporary credentials carries their token (any source: -c, the
    environment, SSO, an instance role), and S3 refuses it once that session has expired."""
    from urllib.parse import parse_qs, urlsplit

    return "X-Amz-Security-Token" in parse_qs(urlsplit(url).query)


@app.command()
@with_repository
def authorize(
    ids: IdsArgument = None,
    input_file: InputOption = None,
    expires: Annotated[
        str,
        typer.Option(
            "-e",
            "--expires",
            metavar="DURATION",
            help="How long the URLs stay valid: seconds, or 30s, 15m, 2h, 7d (at most 7 days). "
            "(default: 2h)",
        ),
    ] = "2h",
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            metavar="FILE",
            help="Write the URLs to this file (readable by its owner only). (default: stdout)",
            show_default=False,
        ),
    ] = None,
    find_links: Annotated[
        Path | None,
        typer.Option(
            "--find-links",
            metavar="PAGE",
            help="Write an HTML page of presigned wheel URLs (from the simple index) for "
            "'pip install --find-links PAGE'; the JSON then goes to -o only.",
            show_default=False,
        ),
    ] = None,
    dev: DevOption = False,
    pre: PreOption = False,
    concurrency: ConcurrencyOption = None,
    cache_dir: CacheDirOption = None,
    *,
    repo: RepositoryOptions,
) -> None:
    """Resolve the dependency graph and print a presigned download URL for every package.

    Anyone holding the output can fetch those exact bundles until the URLs expire, with no AWS
    credentials: 'pipper download -i urls.json' or 'pipper install -i urls.json'. With
    --find-links PAGE, plain pip installs the same wheels: 'pip install --find-links PAGE NAME'.

    Example: pipper authorize -i pipper.json -e 2h -o urls.json
    """
    from pipper.cli.runs import public_config, with_run
    from pipper.specs import gather_requested

    seconds = parse_expiry(expires)
    package_ids = gather_requested(ids or [], input_file, dev=dev).ids
    if any(p.url is not None for p in package_ids):
        raise UsageError("give package names to authorize, not URLs")
    ctx = context(repo, cache_dir=cache_dir, concurrency=concurrency)
    if ctx.repository.is_local:
        raise UsageError(
            f"{ctx.repository.describe()} is a local directory: only S3 objects have presigned URLs"
        )

    async def work(opened: Run) -> tuple[RunResult, list[str], bytes | None]:
        # Every private package, those named only in a wheel's requirements included, gets a
        # URL; the public ones are the job's to fetch from its index.
        result = await opened.resolve_private(package_ids)
        storage = await opened.storage()
        candidates = [p.candidate for p in result.packages.values()]
        urls = [await storage.presign(c.key, seconds) for c in candidates]
        page = None
        if find_links is not None:
            from pipper.simple.links import find_links_page

            page = await find_links_page(storage, ctx.repository, candidates, seconds)
        return result, urls, page

    result, urls, page = with_run(ctx, "Resolving", work, pre=pre, public=public_config(False))
    if any(_signed_with_a_session(url) for url in urls):
        error(
            "the URLs are signed with temporary (session) credentials: they stop working when "
            "that session ends, whatever --expires says; sign with long-term keys (an IAM "
            "user's) for URLs that last",
            "warning",
        )
    data = (json.dumps({"dependencies": urls}, indent=2) + "\n").encode()
    until = (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M UTC")
    if find_links is not None and page is not None:
        _write_private(find_links, page)
        info(
            f"Wrote a find-links page of {len(urls)} wheels of {result.source} valid until "
            f"{until} to {find_links.expanduser()} (pip install --find-links "
            f"{find_links.expanduser()} NAME; anyone with this file can download them)"
        )
        if output is None:
            return
    if output is None:
        sys.stdout.write(data.decode())
        sys.stdout.flush()
        info(f"Authorized {len(urls)} packages of {result.source} until {until}")
        return
    _write_private(output, data)
    info(
        f"Authorized {len(result.packages)} packages of {result.source} until {until} "
        f"into {output.expanduser()} (anyone with this file can download them until then)"
    )


def _write_private(path: Path, data: bytes) -> None:
    """Write ``path`` atomically, readable by its owner only: it holds bearer URLs."""
    from pipper.fsutil import atomic_write_bytes

    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data, mode=0o600)
