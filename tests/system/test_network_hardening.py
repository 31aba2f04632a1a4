"""The network half of the hardening issue, each case through the fault proxy on loopback.

Redirects are never followed (they would carry a session token, or a URL's signature, to a host
the user never named); no request outlives its deadline, whether the server drips its answer,
never answers a PUT's ``100-continue`` or never answers at all, and Ctrl-C ends the process; an
endpoint that answers everything with an HTML page is not a place anything was published to; the
bytes published are the bytes that were checked; and AWS configuration mistakes are one line.

Hangs are run as real processes with a bounded ``timeout``, so a regression fails the test
instead of hanging it.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from pipper.errors import UsageError
from pipper.settings import VARIABLES, Settings
from tests.lib.cli import CliResult, cli, pipper, publish_graph, spawn
from tests.lib.polling import wait_for
from tests.lib.proxy import Faults, MakeProxy, Proxy
from tests.lib.s3servers import S3Server
from tests.lib.wheels import make_bundle

SESSION_TOKEN = "FQoGZXIvYXdzEXAMPLE-session-token-0123456789"
FAST = {"PIPPER_READ_TIMEOUT": "1", "PIPPER_REQUEST_TIMEOUT": "3"}
"""Deadlines short enough for a test; the defaults are 60 s and 120 s."""


def _lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def _one_error_line(stderr: str) -> str:
    lines = _lines(stderr)
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr and "unexpected" not in stderr
    return lines[0]


def _publish_one(tmp_path: Path, bucket: str, name: str = "a") -> Path:
    return publish_graph(tmp_path, ["-b", bucket], {name: {"1.0.0": []}}) / f"{name}-v1-0-0.pipper"


def _download(
    bucket: str, endpoint: str, out: Path, *extra: str, env: dict[str, str] | None = None
) -> CliResult:
    return cli(
        "download", "a", "-b", bucket, "--endpoint-url", endpoint, "-d", str(out), *extra, env=env
    )


# -- redirects ---------------------------------------------------------------------------------


def test_a_redirect_from_the_endpoint_is_never_followed_with_the_session_token(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy
) -> None:
    _publish_one(tmp_path, bucket)
    elsewhere = make_proxy()
    front = make_proxy(faults=Faults(redirect_rate=1.0, redirect_to=elsewhere.url))
    result = _download(bucket, front.url, tmp_path / "v", env={"AWS_SESSION_TOKEN": SESSION_TOKEN})
    assert elsewhere.requests == [], [r.headers for r in elsewhere.requests]
    assert [r.status for r in front.requests] == [307]
    assert front.requests[0].headers.get("x-amz-security-token") == SESSION_TOKEN
    assert result.exit_code == 6
    line = _one_error_line(result.stderr)
    assert "redirect (HTTP 307 to " + elsewhere.url in line
    assert SESSION_TOKEN not in result.stderr + result.stdout


def test_an_upload_is_never_redirected(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], s3_server: S3Server, make_proxy: MakeProxy
) -> None:
    elsewhere = make_proxy()
    front = make_proxy(faults=Faults(redirect_rate=1.0, redirect_to=elsewhere.url, only={"put"}))
    bundle = make_bundle(tmp_path, "moved", "1.0.0")
    result = cli("publish", str(bundle), "-b", bucket, "--endpoint-url", front.url)
    assert elsewhere.requests == []
    assert result.exit_code == 6
    assert "never follows" in _one_error_line(result.stderr)
    assert "Published" not in result.stderr
    assert s3_server.client().list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_a_redirect_of_a_bundle_url_is_never_followed(
    tmp_path: Path,
    bucket: str,
    s3_env: dict[str, str],
    s3_server: S3Server,
    make_proxy: MakeProxy,
) -> None:
    _publish_one(tmp_path, bucket)
    elsewhere = make_proxy()
    front = make_proxy(faults=Faults(redirect_rate=1.0, redirect_to=elsewhere.url))
    url: str = s3_server.client(endpoint_url=front.url).generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "pipper/a/v1-0-0.pipper"}, ExpiresIn=300
    )
    signature = url.split("X-Amz-Signature=", 1)[1]
    result = cli("-q", "download", url, "-d", str(tmp_path / "v"))
    assert elsewhere.requests == []
    assert front.count("get") == 1
    assert result.exit_code == 6
    assert "never follows a redirect" in _one_error_line(result.stderr)
    assert signature not in result.stderr


def test_a_301_without_a_region_is_one_clear_error_after_one_request(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy
) -> None:
    front = make_proxy(faults=Faults(redirect_rate=1.0, redirect_status=301))
    result = _download(bucket, front.url, tmp_path / "v")
    assert result.exit_code == 6
    line = _one_error_line(result.stderr)
    assert "redirect (HTTP 301)" in line and "RecursionError" not in line
    assert front.count() == 1  # botocore's region redirector used to ask ~100 more times


def test_a_bucket_in_another_region_suggests_the_region(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy
) -> None:
    front = make_proxy(
        faults=Faults(redirect_rate=1.0, redirect_status=301, redirect_region="eu-west-1")
    )
    result = _download(bucket, front.url, tmp_path / "v")
    assert result.exit_code == 2
    assert "pass --region eu-west-1" in _one_error_line(result.stderr)
    assert front.count() == 1


# -- deadlines ---------------------------------------------------------------------------------


def test_the_request_timeout_is_a_documented_bounded_setting() -> None:
    assert Settings({}).request_timeout == 120
    assert Settings({"PIPPER_REQUEST_TIMEOUT": "2.5"}).request_timeout == 2.5
    assert "PIPPER_REQUEST_TIMEOUT" in VARIABLES
    for bad in ("soon", "0", "nan", "1e9"):
        with pytest.raises(UsageError, match="PIPPER_REQUEST_TIMEOUT"):
            _ = Settings({"PIPPER_REQUEST_TIMEOUT": bad}).request_timeout


def test_a_dripping_listing_ends_at_the_request_deadline(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy
) -> None:
    _publish_one(tmp_path, bucket)
    # A byte every half second: no single read waits anywhere near the 1 s read timeout.
    front = make_proxy(faults=Faults(drip_rate=1.0, drip_seconds=0.5, only={"list"}))
    started = time.monotonic()
    proc = pipper(
        "download", "a", "-b", bucket, "--endpoint-url", front.url, "-d", str(tmp_path / "v"),
        env=FAST, timeout=60,
    )  # fmt: skip
    assert time.monotonic() - started < 30
    assert proc.returncode == 6, proc.stderr
    line = _one_error_line(proc.stderr)
    assert "no complete answer to listing" in line and "PIPPER_REQUEST_TIMEOUT" in line
    assert front.faults_injected == 1  # the deadline covers the retries: none after it


def test_a_dripping_body_is_cut_off_and_resumed(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy
) -> None:
    published = _publish_one(tmp_path, bucket)
    front = make_proxy(faults=Faults(drip_rate=1.0, drip_seconds=0.5, only={"get"}, max_faults=1))
    out = tmp_path / "v"
    started = time.monotonic()
    proc = pipper(
        "download", "a", "-b", bucket, "--endpoint-url", front.url, "-d", str(out), "--json",
        env=FAST, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - started < 30
    assert front.faults_injected == 1
    assert front.count("get") == 2  # the dripping GET, then the resumed one
    assert (out / published.name).read_bytes() == published.read_bytes()


def test_a_dripping_bundle_url_is_cut_off_and_resumed(
    tmp_path: Path,
    bucket: str,
    s3_env: dict[str, str],
    s3_server: S3Server,
    make_proxy: MakeProxy,
) -> None:
    published = _publish_one(tmp_path, bucket)
    front = make_proxy(faults=Faults(drip_rate=1.0, drip_seconds=0.5, only={"get"}, max_faults=1))
    url: str = s3_server.client(endpoint_url=front.url).generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "pipper/a/v1-0-0.pipper"}, ExpiresIn=300
    )
    out = tmp_path / "v"
    proc = pipper("download", url, "-d", str(out), env=FAST, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert front.count("get") == 2
    assert (out / published.name).read_bytes() == published.read_bytes()


def test_a_put_whose_continue_never_comes_ends_at_the_deadline(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy
) -> None:
    front = make_proxy(faults=Faults(silent_rate=1.0, only={"put"}))
    bundle = make_bundle(tmp_path, "stuck", "1.0.0")
    started = time.monotonic()
    proc = pipper(
        "publish", str(bundle), "-b", bucket, "--endpoint-url", front.url, env=FAST, timeout=60
    )
    assert time.monotonic() - started < 30
    assert proc.returncode == 6, proc.stderr
    assert "may or may not have been stored" in _one_error_line(proc.stderr)
    (put,) = [r for r in front.requests if r.kind == "put"]
    assert put.headers.get("expect") == "100-continue"  # the body waits for an answer
    assert "Published" not in proc.stderr


def test_an_endpoint_that_never_answers_is_given_up_on_and_said_so(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy
) -> None:
    front = make_proxy(faults=Faults(silent_rate=1.0))
    started = time.monotonic()
    proc = pipper(
        "download", "a", "-b", bucket, "--endpoint-url", front.url, "-d", str(tmp_path / "v"),
        env={"PIPPER_READ_TIMEOUT": "1", "PIPPER_REQUEST_TIMEOUT": "4"}, timeout=60,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert proc.returncode == 6, proc.stderr
    warning, error = _lines(proc.stderr)
    assert warning.startswith("warning: no answer from ") and "retrying" in warning
    assert error.startswith("error: ") and "within 4 s" in error
    assert elapsed < 20


def _wait_for_exit(proc: subprocess.Popen[str], timeout: float) -> int:
    code = wait_for(lambda: proc.poll() is not None, timeout, what="the process to exit")
    assert code
    return proc.returncode


@pytest.mark.parametrize("command", ["download", "publish"])
def test_ctrl_c_ends_a_process_stuck_on_a_silent_endpoint(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy, command: str
) -> None:
    front = make_proxy(
        faults=Faults(silent_rate=1.0, only={"put"} if command == "publish" else None)
    )
    if command == "publish":
        args = ["publish", str(make_bundle(tmp_path, "stuck", "1.0.0"))]
    else:
        args = ["download", "a", "-d", str(tmp_path / "v")]
    proc = spawn(*args, "-b", bucket, "--endpoint-url", front.url)
    try:
        wait_for(lambda: any(r.fault == "silent" for r in front.requests), what="a stuck request")
        proc.send_signal(signal.SIGINT)
        assert _wait_for_exit(proc, 10) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
        _, stderr = proc.communicate(timeout=10)
    assert _lines(stderr)[-1] == "error: interrupted"


def _open_for_writing_if_read(fifos: list[Path]) -> int | None:
    """A write end of the first FIFO some process has open for reading (ENXIO until then)."""
    for fifo in fifos:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            continue
    return None


def test_ctrl_c_ends_a_process_whose_event_loop_is_blocked_in_a_read(
    tmp_path: Path, bucket: str, s3_env: dict[str, str]
) -> None:
    # asyncio's own handler only asks the main task to cancel; with the loop's thread blocked in
    # a system call (here a read of a FIFO planted in the cache) the call resumes, the run too.
    _publish_one(tmp_path, bucket)
    cache = tmp_path / "cache"
    args = ["download", "a", "-b", bucket, "--cache-dir", str(cache), "--offline"]
    assert cli(*args[:-1], "-d", str(tmp_path / "v1")).exit_code == 0
    listings = sorted((cache / "listings").rglob("*.json"))
    assert listings
    for listing in listings:
        listing.unlink()
        os.mkfifo(listing)
    proc = spawn(*args, "-d", str(tmp_path / "v2"))
    writer: list[int] = []
    try:
        # Either pipper refuses the FIFO by itself, or it blocks reading it: then Ctrl-C.
        def reading_or_done() -> bool:
            if proc.poll() is not None:
                return True
            fd = _open_for_writing_if_read(listings)
            if fd is not None:
                writer.append(fd)
            return fd is not None

        wait_for(reading_or_done, what="pipper to read the FIFO or to refuse it")
        if writer:
            proc.send_signal(signal.SIGINT)
            assert _wait_for_exit(proc, 10) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)
        for fd in writer:
            os.close(fd)
    assert proc.returncode != 0


# -- an endpoint that is not S3 ----------------------------------------------------------------


def test_a_captive_portal_is_not_a_place_anything_was_published_to(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], s3_server: S3Server, make_proxy: MakeProxy
) -> None:
    portal = make_proxy(faults=Faults(html_rate=1.0))
    bundle = make_bundle(tmp_path, "lost", "1.0.0")
    result = cli("publish", str(bundle), "-b", bucket, "--endpoint-url", portal.url)
    assert result.exit_code == 6
    assert "not an S3 listing (text/html" in _one_error_line(result.stderr)
    assert "Published" not in result.stderr
    assert s3_server.client().list_objects_v2(Bucket=bucket).get("KeyCount") == 0


@pytest.mark.parametrize(
    ("faults", "expected"),
    [
        (Faults(html_rate=1.0, only={"put"}), "does not hold it"),
        (
            Faults(error_rate=1.0, error_status=200, error_code="Nope", only={"put"}),
            "without an ETag",
        ),
    ],
    ids=["html-page-with-etag", "no-etag"],
)
def test_an_upload_the_store_answers_but_does_not_keep_is_an_error(
    tmp_path: Path,
    bucket: str,
    s3_env: dict[str, str],
    s3_server: S3Server,
    make_proxy: MakeProxy,
    faults: Faults,
    expected: str,
) -> None:
    front = make_proxy(faults=faults)
    bundle = make_bundle(tmp_path, "lost", "1.0.0")
    result = cli("publish", str(bundle), "-b", bucket, "--endpoint-url", front.url, "--json")
    assert result.exit_code == 6
    assert expected in _one_error_line(result.stderr)
    assert result.stdout == ""
    assert s3_server.client().list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_a_listing_that_is_not_s3_is_an_error_and_not_remembered(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy
) -> None:
    _publish_one(tmp_path, bucket)
    portal = make_proxy(faults=Faults(html_rate=1.0))
    online = _download(bucket, portal.url, tmp_path / "v")
    assert online.exit_code == 6
    assert "not an S3 listing" in _one_error_line(online.stderr)
    offline = _download(bucket, portal.url, tmp_path / "v", "--offline")
    assert offline.exit_code == 9  # nothing was remembered, not "a is not in the repository"
    assert "not in the cache" in _one_error_line(offline.stderr)


# -- the bytes published are the bytes checked -------------------------------------------------


def _publish_while_held(
    tmp_path: Path, bucket: str, proxy: Proxy, bundle: Path, meanwhile: object
) -> subprocess.CompletedProcess[str]:
    """Publish ``bundle``, running ``meanwhile()`` while its first listing is held."""
    assert callable(meanwhile)
    proxy.hold("list")
    proc = spawn("publish", str(bundle), "-b", bucket, "--endpoint-url", proxy.url)
    try:
        wait_for(lambda: proxy.waiting, what="the publish to list the repository")
        meanwhile()
    finally:
        proxy.release("list")
    stdout, stderr = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def test_publish_uploads_the_file_it_checked_even_if_the_path_is_swapped(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], s3_server: S3Server, make_proxy: MakeProxy
) -> None:
    bundle = make_bundle(tmp_path / "checked", "swapped", "1.0.0")
    impostor = make_bundle(tmp_path / "impostor", "swapped", "1.0.0", extra_meta={"by": "other"})
    checked = bundle.read_bytes()
    assert impostor.read_bytes() != checked
    proc = _publish_while_held(
        tmp_path, bucket, make_proxy(), bundle, lambda: os.replace(impostor, bundle)
    )
    assert proc.returncode == 0, proc.stderr
    obj = s3_server.client().get_object(Bucket=bucket, Key="pipper/swapped/v1-0-0.pipper")
    body = obj["Body"].read()
    assert body == checked
    assert obj["Metadata"]["sha256"] == hashlib.sha256(body).hexdigest()


def test_publish_refuses_a_bundle_rewritten_in_place_while_it_is_read(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], s3_server: S3Server, make_proxy: MakeProxy
) -> None:
    bundle = make_bundle(tmp_path / "checked", "rewritten", "1.0.0")
    other = make_bundle(tmp_path / "other", "rewritten", "1.0.0", extra_meta={"by": "other"})

    def rewrite() -> None:
        with bundle.open("r+b") as handle:  # the same file, not a new one at the path
            handle.write(other.read_bytes())
            handle.truncate()

    proc = _publish_while_held(tmp_path, bucket, make_proxy(), bundle, rewrite)
    assert proc.returncode == 7, proc.stderr
    assert "changed while it was read" in _one_error_line(proc.stderr)
    assert s3_server.client().list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_publish_refuses_a_fifo_instead_of_waiting_on_it(
    tmp_path: Path, bucket: str, s3_env: dict[str, str]
) -> None:
    folder = tmp_path / "bundles"
    folder.mkdir()
    os.mkfifo(folder / "pipe-v1-0-0.pipper")
    proc = pipper("publish", str(folder), "-b", bucket, timeout=60)
    assert proc.returncode == 7
    assert "not a regular file" in _one_error_line(proc.stderr)


# -- AWS configuration mistakes ----------------------------------------------------------------


def test_a_profile_that_does_not_exist_is_one_line(
    tmp_path: Path, bucket: str, s3_env: dict[str, str]
) -> None:
    result = cli("download", "a", "-b", bucket, "-p", "nosuch", "-d", str(tmp_path / "v"))
    assert result.exit_code == 2
    assert "no AWS profile named 'nosuch'" in _one_error_line(result.stderr)


def test_a_malformed_credentials_file_is_one_line(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text("[default\naws_access_key_id = AKIAEXAMPLE\n")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    result = cli("download", "a", "-b", bucket, "-d", str(tmp_path / "v"))
    assert result.exit_code == 2
    assert f"cannot parse the AWS config file {credentials}" in _one_error_line(result.stderr)


def test_a_clock_skew_says_so_rather_than_access_denied(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy
) -> None:
    front = make_proxy(faults=Faults(error_rate=1.0, error_status=403))
    result = _download(bucket, front.url, tmp_path / "v")
    assert result.exit_code == 5
    line = _one_error_line(result.stderr)
    assert "clock" in line and "RequestTimeTooSkewed" in line
    assert "access denied" not in line
