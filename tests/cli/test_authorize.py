"""``pipper authorize`` and bundle URLs as ids: presigned S3 GETs, with no credentials at all."""

from __future__ import annotations

import hashlib
import json
import stat
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.lib.cli import Graph, cli, publish_graph
from tests.lib.isolation import PipperHome
from tests.lib.polling import wait_for
from tests.lib.proxy import MakeProxy
from tests.lib.wheels import make_bundle

GRAPH: Graph = {
    "app": {"1.0.0": ["lib:>=1"]},
    "lib": {"1.0.0": ["base"], "0.5.0": []},
    "base": {"1.0.0": []},
}
_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def published(tmp_path: Path, s3_env: dict[str, str], bucket: str) -> Path:
    return publish_graph(tmp_path, ["-b", bucket], GRAPH, sizes={"base": 300_000})


def _authorize(tmp_path: Path, *args: str) -> list[str]:
    urls_file = tmp_path / "urls.json"
    result = cli("authorize", "app", "-e", "10m", "-o", str(urls_file), *args)
    assert result.exit_code == 0, result.stderr
    assert "X-Amz-Signature" not in result.stderr
    assert stat.S_IMODE(urls_file.stat().st_mode) == 0o600
    data = json.loads(urls_file.read_text())
    assert list(data) == ["dependencies"]
    urls: list[str] = data["dependencies"]
    return urls


def test_presigned_urls_download_and_install_with_no_credentials(
    tmp_path: Path, bucket: str, published: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    urls = _authorize(tmp_path, "-b", bucket)
    assert len(urls) == 3
    assert all("X-Amz-Signature=" in u and "X-Amz-Expires=600" in u for u in urls)
    assert sorted(u.split("?")[0].rsplit("/", 2)[1] for u in urls) == ["app", "base", "lib"]

    for name in _CREDENTIALS:
        monkeypatch.delenv(name)
    out = tmp_path / "vendor"
    fresh = ["--cache-dir", str(tmp_path / "cache-of-a-ci-job")]
    result = cli("download", "-i", str(tmp_path / "urls.json"), "-d", str(out), "--json", *fresh)
    assert result.exit_code == 0, result.stderr
    assert "X-Amz-Signature" not in result.stderr + result.stdout
    data = result.json()
    assert isinstance(data, dict)
    assert {p["name"]: p["version"] for p in data["packages"]} == {
        "app": "1.0.0",
        "lib": "1.0.0",
        "base": "1.0.0",
    }
    assert {p["source"] for p in data["packages"]} == {"network"}
    by_name = {p["name"]: p for p in data["packages"]}
    assert by_name["lib"]["dependencies"] == ["base"]
    assert by_name["base"]["required_by"] == ["lib"]
    for file in ("app-v1-0-0.pipper", "lib-v1-0-0.pipper", "base-v1-0-0.pipper"):
        assert sha256(out / file) == sha256(published / file)

    # One URL as an id on the command line works the same; its dependencies must come too.
    url_of = {u.split("?")[0].rsplit("/", 2)[1]: u for u in urls}
    lone = cli("download", url_of["base"], "-d", str(tmp_path / "lone"))
    assert lone.exit_code == 0, lone.stderr
    assert (tmp_path / "lone" / "base-v1-0-0.pipper").is_file()
    alone = cli("download", url_of["app"], "-d", str(tmp_path / "alone"))
    assert alone.exit_code == 4
    assert "app 1.0.0 needs lib>=1, which none of the URLs provides" in alone.stderr

    target = tmp_path / "target"
    installed = cli(
        "install",
        "-i",
        str(tmp_path / "urls.json"),
        "--target",
        str(target),
        "--cache-dir",
        str(tmp_path / "fresh-cache"),
        env={"PIP_CONFIG_FILE": "/dev/null", "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert installed.exit_code == 0, installed.stderr
    for module in ("app", "lib", "base"):
        assert (target / module / "__init__.py").is_file()


def test_url_runs_make_one_get_each_and_a_warm_run_reads_no_body(
    tmp_path: Path,
    bucket: str,
    published: Path,
    make_proxy: MakeProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = make_proxy()
    _authorize(
        tmp_path, "-b", bucket, "--endpoint-url", proxy.url, "--cache-dir", str(tmp_path / "c")
    )
    for name in _CREDENTIALS:
        monkeypatch.delenv(name)
    proxy.reset()
    cold = cli("download", "-i", str(tmp_path / "urls.json"), "-d", str(tmp_path / "a"), "--json")
    assert cold.exit_code == 0, cold.stderr
    assert (proxy.count("get"), proxy.count("all")) == (3, 3)
    files = ["app-v1-0-0.pipper", "lib-v1-0-0.pipper", "base-v1-0-0.pipper"]
    assert cold.json()["bytes_fetched"] == sum((published / f).stat().st_size for f in files)
    proxy.reset()
    warm = cli("download", "-i", str(tmp_path / "urls.json"), "-d", str(tmp_path / "b"), "--json")
    assert warm.exit_code == 0, warm.stderr
    assert (proxy.count("get"), proxy.count("all")) == (3, 3)
    data = warm.json()
    assert isinstance(data, dict)
    assert data["bytes_fetched"] == 0
    assert {p["source"] for p in data["packages"]} == {"cache"}
    assert len(list((tmp_path / "b").glob("*.pipper"))) == 3


def test_urls_and_names_mix_and_missing_dependencies_are_named(
    tmp_path: Path, bucket: str, published: Path
) -> None:
    urls = _authorize(tmp_path, "-b", bucket)
    without_base = [u for u in urls if "/base/" not in u.split("?")[0]]
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"dependencies": without_base}))
    missing = cli("download", "-i", str(partial), "-d", str(tmp_path / "m"))
    assert missing.exit_code == 4
    assert "lib 1.0.0 needs base, which none of the URLs provides" in missing.stderr

    mixed = cli("download", "base", "-i", str(partial), "-d", str(tmp_path / "v"), "-b", bucket)
    assert mixed.exit_code == 0, mixed.stderr
    assert len(list((tmp_path / "v").glob("*.pipper"))) == 3

    clash = cli("download", "lib:<1", "-i", str(partial), "-d", str(tmp_path / "c"), "-b", bucket)
    assert clash.exit_code == 4
    assert "does not allow" in clash.stderr


def _refused(url: str) -> bool:
    """Whether the store now answers the URL with 403 (it signs the time, the store checks it)."""
    try:
        with urllib.request.urlopen(url, timeout=10):
            return False
    except urllib.error.HTTPError as error:
        return error.code == 403


def test_an_expired_url_says_so(tmp_path: Path, bucket: str, published: Path) -> None:
    result = cli("authorize", "base", "-e", "1s", "-b", bucket)
    assert result.exit_code == 0, result.stderr
    url = json.loads(result.stdout)["dependencies"][0]
    wait_for(lambda: _refused(url), timeout=30, what="the server to refuse the expired URL")
    late = cli("download", url, "-d", str(tmp_path / "v"))
    assert late.exit_code == 5
    assert "expired" in late.stderr
    assert "X-Amz-Signature" not in late.stderr


def test_authorize_refuses_bad_requests(tmp_path: Path, bucket: str, published: Path) -> None:
    too_long = cli("authorize", "app", "-e", "8d", "-b", bucket)
    assert too_long.exit_code == 2
    assert "at most 7 days" in too_long.stderr
    local = cli("authorize", "app", "-b", str(tmp_path / "local"))
    assert local.exit_code == 2
    assert "only S3 objects have presigned URLs" in local.stderr


# -- a plain HTTP server: virtual-hosted style paths, broken bodies, wrong digests -------------


class _Bundles(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, tuple[bytes, str | None]] = {}
        self.break_first: Path | None = None
        """Break the first body off half way, once the client has written some of it here."""
        self.seen: list[tuple[str, str | None, str | None]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: _Bundles

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        self.server.seen.append((path, self.headers.get("Range"), self.headers.get("If-Match")))
        if path not in self.server.files:
            self.send_error(404)
            return
        body, digest = self.server.files[path]
        etag = f'"{hashlib.md5(body).hexdigest()}"'
        start = 0
        ranged = self.headers.get("Range")
        if ranged:
            if self.headers.get("If-Match") != etag:
                self.send_error(412)
                return
            start = int(ranged.removeprefix("bytes=").rstrip("-"))
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body) - start))
        self.send_header("ETag", etag)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        if digest:
            self.send_header("x-amz-meta-sha256", digest)
        self.end_headers()
        partials, self.server.break_first = self.server.break_first, None
        if partials is not None and not start:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            # A client drops what it has buffered but not yet read when the connection ends,
            # so end it only once the download has written some of the half to its file.
            wait_for(
                lambda: any(p.stat().st_size for p in partials.glob("*.part")),
                what="the client to write part of the body",
            )
            self.close_connection = True
            return
        self.wfile.write(body[start:])


@pytest.fixture
def http_bundles() -> Iterator[_Bundles]:
    server = _Bundles()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_virtual_hosted_style_url_resumes_a_broken_body(
    tmp_path: Path, http_bundles: _Bundles, pipper_home: PipperHome
) -> None:
    bundle = make_bundle(tmp_path / "b", "solo", "2.1.0", payload_size=400_000)
    body = bundle.read_bytes()
    http_bundles.files["/team/pkgs/solo/v2-1-0.pipper"] = (body, hashlib.sha256(body).hexdigest())
    http_bundles.break_first = pipper_home.cache_dir / "tmp"
    url = f"{http_bundles.url}/team/pkgs/solo/v2-1-0.pipper?X-Amz-Signature=abc"
    result = cli("download", url, "-d", str(tmp_path / "v"), "--json")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "v" / "solo-v2-1-0.pipper").read_bytes() == body
    assert result.json()["retries"] == 1
    (first, _, _), (again, ranged, if_match) = http_bundles.seen
    assert first == again == "/team/pkgs/solo/v2-1-0.pipper"
    assert ranged is not None and ranged.startswith("bytes=") and ranged != "bytes=0-"
    assert if_match is not None


def test_a_url_whose_bytes_do_not_match_its_digest_is_refused(
    tmp_path: Path, http_bundles: _Bundles, pipper_home: PipperHome
) -> None:
    bundle = make_bundle(tmp_path / "b", "solo", "1.0.0")
    http_bundles.files["/pipper/solo/v1-0-0.pipper"] = (bundle.read_bytes(), "0" * 64)
    result = cli("download", f"{http_bundles.url}/pipper/solo/v1-0-0.pipper", "-d", str(tmp_path))
    assert result.exit_code == 7
    assert "does not match the published" in result.stderr
    assert not (tmp_path / "solo-v1-0-0.pipper").exists()

    other = make_bundle(tmp_path / "c", "other", "1.0.0")
    http_bundles.files["/pipper/solo/v3-0-0.pipper"] = (other.read_bytes(), None)
    wrong = cli("download", f"{http_bundles.url}/pipper/solo/v3-0-0.pipper", "-d", str(tmp_path))
    assert wrong.exit_code == 7
    assert "solo/v3-0-0.pipper" in wrong.stderr

    gone = cli("download", f"{http_bundles.url}/pipper/solo/v9-0-0.pipper", "-d", str(tmp_path))
    assert gone.exit_code == 3
    assert "HTTP 404" in gone.stderr
