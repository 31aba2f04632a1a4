"""Hostile input: each case is refused with one line, a non-zero exit, and nothing written astray.

Bundles come from a shared bucket that anyone with write access can fill, and names end up in S3
keys and local paths, so every case here is something an attacker (or an accident) could plant.
Crafted objects are uploaded straight with boto3, past every check ``pipper publish`` makes.
"""

from __future__ import annotations

import hashlib
import io
import json
import stat
import uuid
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.lib.cli import CliResult, cli, publish_graph
from tests.lib.isolation import PipperHome
from tests.lib.proxy import MakeProxy, Proxy
from tests.lib.s3servers import S3Server
from tests.lib.wheels import make_wheel

# -- shared checks -----------------------------------------------------------------------------


def snapshot(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def assert_one_line_error(result: CliResult, exit_code: int | None = None) -> str:
    """Exactly one non-empty stderr line, an ``error:`` one; a non-zero exit; no traceback."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    if exit_code is None:
        assert result.exit_code != 0
    else:
        assert result.exit_code == exit_code, result.stderr
    return lines[0]


def assert_written_only_under(before: set[str], after: set[str], *allowed: str) -> None:
    new = after - before
    astray = sorted(p for p in new if not any(p == a or p.startswith(a + "/") for a in allowed))
    assert astray == [], astray


def _has_command(*path: str) -> bool:
    import typer.main

    from pipper.cli import app

    group: Any = typer.main.get_command(app)
    for part in path:
        group = getattr(group, "commands", {}).get(part)
        if group is None:
            return False
    return True


# -- names and ids -----------------------------------------------------------------------------

HOSTILE_NAMES = {
    "dotdot": "..",
    "dotdot-path": "../../evil",
    "slash": "team/evil",
    "backslash": "team\\evil",
    "absolute": "/etc/passwd",
    "drive": "C:\\evil",
    "home": "~/evil",
    "nul": "evil\x00pkg",
    "escape": "evil\x1b[31mpkg",
    "newline": "evil\npkg",
    "too-long": "a" * 201,
}


def _id_commands(tmp_path: Path) -> dict[str, Callable[[str], list[str]]]:
    """Every command that takes package ids, as it would be given one hostile id."""

    def input_file(suffix: str, name: str) -> list[str]:
        path = tmp_path / f"input{suffix}"
        if suffix == ".json":
            path.write_text(json.dumps({"dependencies": [name]}))
        else:
            path.write_text(f"dependencies:\n  - {json.dumps(name)}\n")
        return ["download", "-i", str(path), "-d", str(tmp_path / "out")]

    commands: dict[str, Callable[[str], list[str]]] = {
        "download": lambda n: ["download", n, "-d", str(tmp_path / "out")],
        "download-json": lambda n: input_file(".json", n),
        "download-yaml": lambda n: input_file(".yaml", n),
        "info": lambda n: ["info", n],
    }
    optional: dict[tuple[str, ...], Callable[[str], list[str]]] = {
        ("lock",): lambda n: ["lock", n, "-o", str(tmp_path / "pipper.lock")],
        ("authorize",): lambda n: ["authorize", n],
        ("cache", "warm"): lambda n: ["cache", "warm", n],
        ("install",): lambda n: ["install", n, "--dry-run", "-t", str(tmp_path / "target")],
    }
    for path, make in optional.items():
        if _has_command(*path):
            commands[" ".join(path)] = make
    return commands


@pytest.fixture
def counted(
    shared_bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy
) -> tuple[list[str], Proxy]:
    proxy = make_proxy()
    return ["-b", shared_bucket, "--endpoint-url", proxy.url], proxy


@pytest.mark.parametrize("case", list(HOSTILE_NAMES))
def test_hostile_names_are_refused_before_any_request(
    tmp_path: Path, counted: tuple[list[str], Proxy], pipper_home: PipperHome, case: str
) -> None:
    repo, proxy = counted
    name = HOSTILE_NAMES[case]
    for label, make in _id_commands(tmp_path).items():
        args = make(name)
        before = snapshot(tmp_path)
        result = cli(*args, *repo)
        line = assert_one_line_error(result, 2)
        # install also takes .pipper files and folders, so there a path-like id is a path.
        assert "package" in line or label == "install", (label, line)
        assert proxy.count() == 0, (label, proxy.requests)
        assert_written_only_under(before, snapshot(tmp_path), "pipper-cache")


# -- crafted bundles ---------------------------------------------------------------------------


def _entry(name: str, data: bytes, *, mode: int = 0o644, compress: int = zipfile.ZIP_STORED) -> Any:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = compress
    info.create_system = 3
    info.external_attr = mode << 16
    return info, data


def zip_of(
    entries: Sequence[tuple[zipfile.ZipInfo, bytes]],
    patch: dict[str, dict[str, int]] | None = None,
) -> bytes:
    """A zip of ``entries``; ``patch`` rewrites fields of entries in the central directory
    (which is what readers trust), after zipfile wrote honest values."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are one of the cases
        with zipfile.ZipFile(buffer, "w") as zf:
            for info, data in entries:
                zf.writestr(info, data)
            for info in zf.filelist:
                for field, value in (patch or {}).get(info.filename, {}).items():
                    setattr(info, field, value)
    return buffer.getvalue()


def meta_of(name: str = "evil", version: str = "1.0.0", **fields: Any) -> bytes:
    meta = {
        "name": name,
        "version": version,
        "safe_version": "v" + version.replace(".", "-"),
        "wheel_name": f"{name}-{version}-py3-none-any.whl",
        "timestamp": "2020-01-01T00:00:00+00:00",
        "dependencies": [],
    }
    meta.update(fields)
    return json.dumps(meta).encode()


@dataclass(frozen=True)
class Crafted:
    body: bytes
    says: str
    """A fragment the one error line must contain: which check refused it."""


def _crafted_bundles(wheel: bytes, other_wheel: bytes) -> dict[str, Crafted]:
    whl = _entry("package.whl", wheel)
    meta = _entry("package.meta", meta_of())

    def named(wheel_name: str) -> bytes:
        return zip_of([whl, _entry("package.meta", meta_of(wheel_name=wheel_name))])

    zeros = bytes(40 * 1024 * 1024)
    return {
        "not-a-zip": Crafted(b"MZ\x90\x00 certainly not a zip " * 64, "not a zip archive"),
        "empty-zip": Crafted(zip_of([]), "no package.meta entry"),
        "no-meta": Crafted(zip_of([whl]), "no package.meta entry"),
        "no-wheel": Crafted(zip_of([meta]), "no package.whl entry"),
        "extra-entry": Crafted(
            zip_of([whl, meta, _entry("evil.py", b"import os")]), "unexpected entries"
        ),
        "duplicate-entry": Crafted(zip_of([whl, meta, meta]), "duplicate entries"),
        "dotdot-entry": Crafted(zip_of([whl, meta, _entry("../../evil.py", b"x")]), "unsafe path"),
        "absolute-entry": Crafted(zip_of([whl, meta, _entry("/tmp/evil.py", b"x")]), "unsafe path"),
        "backslash-entry": Crafted(zip_of([whl, meta, _entry("..\\evil.py", b"x")]), "unsafe path"),
        "symlink-wheel": Crafted(
            zip_of([_entry("package.whl", b"/etc/passwd", mode=stat.S_IFLNK | 0o777), meta]),
            "symbolic link",
        ),
        "symlink-extra": Crafted(
            zip_of([whl, meta, _entry("link", b"/etc", mode=stat.S_IFLNK | 0o777)]),
            "symbolic link",
        ),
        "wheel-name-dotdot": Crafted(
            named("../../evil-1.0.0-py3-none-any.whl"), "not a plain file name"
        ),
        "wheel-name-folder": Crafted(
            named("sub/evil-1.0.0-py3-none-any.whl"), "not a plain file name"
        ),
        "wheel-name-absolute": Crafted(
            named("/tmp/evil-1.0.0-py3-none-any.whl"), "not a plain file name"
        ),
        "wheel-name-other": Crafted(named("pip-1.0.0-py3-none-any.whl"), "does not match"),
        "meta-not-json": Crafted(
            zip_of([whl, _entry("package.meta", b"{'name': 'evil'")]), "not valid JSON"
        ),
        "meta-not-an-object": Crafted(
            zip_of([whl, _entry("package.meta", b"[1, 2]")]), "not a JSON object"
        ),
        "meta-without-name": Crafted(
            zip_of([whl, _entry("package.meta", b'{"version": "1.0.0"}')]), "'name' is missing"
        ),
        "meta-huge": Crafted(
            zip_of([whl, _entry("package.meta", meta_of(padding="x" * 2_000_000))]),
            "over the 1048576 allowed",
        ),
        "meta-other-package": Crafted(
            zip_of([_entry("package.whl", other_wheel), _entry("package.meta", meta_of("pip"))]),
            "its key says evil",
        ),
        "meta-other-version": Crafted(
            zip_of([whl, _entry("package.meta", meta_of(version="2.0.0"))]),
            "its key says evil 1.0.0",
        ),
        "encrypted-entry": Crafted(
            zip_of([whl, meta], {"package.whl": {"flag_bits": 0x1}}), "encrypted"
        ),
        "declared-size-absurd": Crafted(
            zip_of([whl, meta], {"package.whl": {"file_size": 10**12}}), "declares"
        ),
        "zip-bomb": Crafted(
            zip_of([_entry("package.whl", zeros, compress=zipfile.ZIP_DEFLATED), meta]),
            "zip bomb",
        ),
    }


CRAFTED_CASES = [
    "not-a-zip", "empty-zip", "no-meta", "no-wheel", "extra-entry", "duplicate-entry",
    "dotdot-entry", "absolute-entry", "backslash-entry", "symlink-wheel", "symlink-extra",
    "wheel-name-dotdot", "wheel-name-folder", "wheel-name-absolute", "wheel-name-other",
    "meta-not-json", "meta-not-an-object", "meta-without-name", "meta-huge",
    "meta-other-package", "meta-other-version", "encrypted-entry", "declared-size-absurd",
    "zip-bomb",
]  # fmt: skip
# Valid bundles, only not for the key they were uploaded under: publish would accept them.
VALID_ELSEWHERE = ("meta-other-package", "meta-other-version")


@pytest.fixture(scope="module")
def crafted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Crafted]:
    tmp = tmp_path_factory.mktemp("wheels")
    wheel = make_wheel(tmp, "evil", "1.0.0").read_bytes()
    other = make_wheel(tmp, "pip", "1.0.0").read_bytes()
    bundles = _crafted_bundles(wheel, other)
    assert sorted(bundles) == sorted(CRAFTED_CASES)
    return bundles


@dataclass(frozen=True)
class Place:
    """A fresh root prefix in the module's one bucket.

    A SeaweedFS server gives every bucket that receives data a volume of its own, and has only so
    many (about 75 on these machines), so the many cases here share one bucket.
    """

    server: S3Server
    bucket: str
    prefix: str

    @property
    def args(self) -> list[str]:
        return ["-b", self.bucket, "--root-prefix", self.prefix]

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}/v1-0-0.pipper"

    def upload(
        self,
        body: bytes,
        *,
        name: str = "evil",
        sha256: str | None = None,
        package: dict[str, Any] | None = None,
    ) -> None:
        """Put a crafted object straight into the bucket, past every check of ``publish``."""
        metadata = {"sha256": sha256 or hashlib.sha256(body).hexdigest()}
        if package is not None:
            metadata["package"] = json.dumps(package, separators=(",", ":"))
        self.server.client().put_object(
            Bucket=self.bucket, Key=self.key(name), Body=body, Metadata=metadata
        )

    def keys(self) -> list[str]:
        listing = self.server.client().list_objects_v2(Bucket=self.bucket, Prefix=self.prefix + "/")
        return [item["Key"] for item in listing.get("Contents", ())]


@pytest.fixture(scope="module")
def shared_bucket(s3_server: S3Server) -> str:
    name = f"hostile-{uuid.uuid4().hex[:8]}"
    s3_server.client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def place(s3_server: S3Server, shared_bucket: str, s3_env: dict[str, str]) -> Place:
    return Place(s3_server, shared_bucket, f"t{uuid.uuid4().hex[:12]}")


def assert_nothing_kept(tmp_path: Path, before: set[str], cache: Path, out: Path) -> None:
    """No blob in the cache, no download left half-way, no output folder, nothing elsewhere."""
    blobs = [p for p in (cache / "blobs").rglob("*") if p.is_file()]
    assert blobs == []
    leftovers = list((cache / "tmp").iterdir()) if (cache / "tmp").exists() else []
    assert leftovers == []
    assert not out.exists() or not any(out.iterdir())
    assert_written_only_under(before, snapshot(tmp_path), cache.relative_to(tmp_path).as_posix())


@pytest.mark.parametrize("case", CRAFTED_CASES)
def test_hostile_bundles_are_refused_on_download(
    tmp_path: Path, place: Place, crafted: dict[str, Crafted], case: str
) -> None:
    bundle = crafted[case]
    place.upload(bundle.body)
    cache, out = tmp_path / "cache", tmp_path / "out"
    before = snapshot(tmp_path)
    result = cli("download", "evil", *place.args, "--cache-dir", str(cache), "-d", str(out))
    line = assert_one_line_error(result, 7)
    assert line.startswith(f"error: {place.key('evil')}: ")
    assert bundle.says in line
    assert line.endswith("; the download was discarded")
    assert str(cache) not in line  # no temporary file name: it is gone by the time one reads it
    assert_nothing_kept(tmp_path, before, cache, out)


PUBLISH_REFUSES = [c for c in CRAFTED_CASES if c not in VALID_ELSEWHERE]


@pytest.mark.parametrize("case", PUBLISH_REFUSES)
def test_hostile_bundles_are_refused_on_publish(
    tmp_path: Path, place: Place, crafted: dict[str, Crafted], case: str
) -> None:
    path = tmp_path / "evil-v1-0-0.pipper"
    path.write_bytes(crafted[case].body)
    line = assert_one_line_error(cli("publish", str(path), *place.args), 7)
    assert crafted[case].says in line
    assert place.keys() == []


def test_a_bundle_that_does_not_match_its_published_sha256_is_discarded(
    tmp_path: Path, place: Place
) -> None:
    published = publish_graph(tmp_path, place.args, {"evil": {"1.0.0": []}})
    genuine = published / "evil-v1-0-0.pipper"
    # A valid bundle, swapped in after publishing: its bytes no longer match the sha256 metadata.
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    swapped = make_wheel(tampered, "evil", "1.0.0", payload_size=1000).read_bytes()
    body = zip_of([_entry("package.whl", swapped), _entry("package.meta", meta_of())])
    place.upload(body, sha256=hashlib.sha256(genuine.read_bytes()).hexdigest())
    cache, out = tmp_path / "cache", tmp_path / "out"
    before = snapshot(tmp_path)
    result = cli("download", "evil", *place.args, "--cache-dir", str(cache), "-d", str(out))
    line = assert_one_line_error(result, 7)
    assert "does not match the published" in line and "discarded" in line
    assert_nothing_kept(tmp_path, before, cache, out)


def test_a_wheel_whose_header_understates_its_size_is_not_inflated(
    tmp_path: Path, place: Place
) -> None:
    """A deflated entry that declares 10 kB but inflates to 40 MB: ``--extract`` must stop."""
    zeros = bytes(40 * 1024 * 1024)
    entries = [
        _entry("package.whl", zeros, compress=zipfile.ZIP_DEFLATED),
        _entry("package.meta", meta_of()),
    ]
    place.upload(zip_of(entries, {"package.whl": {"file_size": 10_000}}))
    cache, out = tmp_path / "cache", tmp_path / "out"
    result = cli(
        "download", "evil", *place.args, "--cache-dir", str(cache), "-d", str(out), "--extract"
    )
    line = assert_one_line_error(result, 7)
    assert "package.whl" in line
    # Reading the wheel's requirements may refuse it before the output folder is made.
    assert not out.exists() or list(out.glob("*.whl")) == []
    assert not out.exists() or [p.name for p in out.iterdir() if p.name.startswith(".tmp-")] == []
    written = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    assert written < 5 * 1024 * 1024


# -- hostile dependencies inside a published bundle --------------------------------------------


def _app_with_dependency(dependency: str, tmp: Path) -> bytes:
    wheel = make_wheel(tmp, "app", "1.0.0").read_bytes()
    meta = meta_of("app", dependencies=[dependency])
    return zip_of([_entry("package.whl", wheel), _entry("package.meta", meta)])


@pytest.mark.parametrize("where", ["s3-metadata", "bundle-only"])
@pytest.mark.parametrize("case", list(HOSTILE_NAMES))
def test_hostile_dependency_names_in_a_bundle_are_refused(
    tmp_path: Path, place: Place, make_proxy: MakeProxy, case: str, where: str
) -> None:
    dependency = HOSTILE_NAMES[case]
    body = _app_with_dependency(dependency, tmp_path / "wheel")
    package = {"name": "app", "version": "1.0.0", "dependencies": [dependency]}
    place.upload(body, name="app", package=package if where == "s3-metadata" else None)
    proxy = make_proxy()
    cache, out = tmp_path / "cache", tmp_path / "out"
    before = snapshot(tmp_path)
    result = cli(
        "download", "app", *place.args, "--endpoint-url", proxy.url,
        "--cache-dir", str(cache), "-d", str(out),
    )  # fmt: skip
    line = assert_one_line_error(result, 7)
    assert f"{place.key('app')} declares an invalid dependency" in line
    # Nothing but the repository and the app's own folder was asked for: the hostile name never
    # became a request.
    listed = {parse_qs(r.query)["prefix"][0] for r in proxy.requests if r.kind == "list"}
    assert listed <= {f"{place.prefix}/", f"{place.prefix}/app/"}
    fetched = {r.path for r in proxy.requests if r.kind != "list"}
    assert fetched == {f"/{place.bucket}/{place.key('app')}"}
    assert not out.exists()
    assert_written_only_under(before, snapshot(tmp_path), "cache")


def test_a_hostile_dependency_hidden_behind_clean_metadata_is_blamed_on_the_bundle(
    tmp_path: Path, place: Place
) -> None:
    body = _app_with_dependency("../../evil", tmp_path / "wheel")
    place.upload(body, name="app", package={"name": "app", "version": "1.0.0", "dependencies": []})
    result = cli("download", "app", *place.args, "-d", str(tmp_path / "out"))
    line = assert_one_line_error(result, 7)
    assert place.key("app") in line


# -- input files -------------------------------------------------------------------------------


@pytest.fixture
def local_repo(tmp_path: Path) -> list[str]:
    """A local directory repository holding package ``a``: no S3 needed for input-file cases."""
    repo = ["-b", str(tmp_path / "repo")]
    publish_graph(tmp_path, repo, {"a": {"1.0.0": []}})
    return repo


JSON, YAML = "pipper.json", "pipper.yaml"
MALFORMED_INPUTS: dict[str, tuple[str, str | bytes, str]] = {
    "json-trailing-comma": (JSON, '{\n  "dependencies": [\n    "a",\n  ]\n}\n', ":4:3: "),
    "json-truncated": (JSON, '{"dependencies": ["a"', ":1:22: "),
    "json-deeply-nested": (JSON, "[" * 200_000 + "]" * 200_000, "nested too deeply"),
    "yaml-bad-indent": (YAML, "dependencies:\n  - a\n - b\n", ":3:2: "),
    "yaml-unclosed-quote": (YAML, 'dependencies:\n  - "a\n', ":3:1: "),
    "yaml-tab": (YAML, "dependencies:\n\t- a\n", ":2:1: "),
    "not-utf8": (JSON, b'{"dependencies": ["\xff\xfe"]}', "not UTF-8"),
    "json-top-level-list": (JSON, '["a"]', "top level must be a mapping"),
    "yaml-top-level-string": (YAML, "just a string\n", "top level must be a mapping"),
    "dependencies-a-string": (JSON, '{"dependencies": "a"}', "must be a list of strings"),
    "dependencies-a-mapping": (YAML, "dependencies:\n  a: 1\n", "must be a list"),
    "dependency-a-number": (JSON, '{"dependencies": [1]}', "dependencies[0] must be a string"),
    "dependency-an-object": (JSON, '{"dependencies": [{"a": 1}]}', "must be a string"),
    "dev-dependencies-a-number": (JSON, '{"dev_dependencies": 3}', "'dev_dependencies'"),
    "pypi-not-a-requirement": (JSON, '{"dependencies": ["a"], "pypi": ["not a req !"]}', "pypi[0]"),
}


@pytest.mark.parametrize("case", list(MALFORMED_INPUTS))
def test_malformed_input_files_name_the_file_and_the_place(
    tmp_path: Path, local_repo: list[str], case: str
) -> None:
    filename, text, says = MALFORMED_INPUTS[case]
    path = tmp_path / "project" / filename
    path.parent.mkdir()
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    out = tmp_path / "out"
    before = snapshot(tmp_path)
    result = cli("download", "-i", str(path), "-d", str(out), "--dev", *local_repo)
    line = assert_one_line_error(result, 2)
    assert f"error: {path}" in line
    assert says in line
    assert_written_only_under(before, snapshot(tmp_path))


@pytest.mark.parametrize("filename", ["pipper.json", "pipper.yaml"])
def test_unknown_keys_in_an_input_file_are_a_warning(
    tmp_path: Path, local_repo: list[str], filename: str
) -> None:
    path = tmp_path / filename
    if filename.endswith(".json"):
        path.write_text('{"dependencies": ["a"], "dependancies": ["b"]}')
    else:
        path.write_text("dependencies:\n  - a\ndependancies:\n  - b\n")
    result = cli("download", "-i", str(path), "-d", str(tmp_path / "out"), *local_repo)
    assert result.exit_code == 0, result.stderr
    warnings_ = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings_) == 1 and "'dependancies'" in warnings_[0] and str(path) in warnings_[0]
    assert (tmp_path / "out" / "a-v1-0-0.pipper").is_file()


def test_an_oversized_input_file_is_refused_unread(tmp_path: Path, local_repo: list[str]) -> None:
    path = tmp_path / "pipper.json"
    with path.open("wb") as handle:
        handle.write(b'{"dependencies": ["a"], "padding": "')
        handle.truncate(11 * 1024 * 1024)
    line = assert_one_line_error(cli("download", "-i", str(path), *local_repo), 2)
    assert "larger than" in line


# -- the repositories file ---------------------------------------------------------------------

CORRUPT_REPOSITORIES = {
    "not-json": b'{"repositories": {"team": {"bucket": "b"',
    "not-an-object": b'["team"]',
    "repositories-a-list": b'{"repositories": ["team"], "default": null}',
    "field-a-number": b'{"repositories": {"team": {"bucket": 5}}, "default": null}',
    "default-a-number": b'{"repositories": {}, "default": 1}',
    "binary": b"\xff\xfe\x00garbage",
}

REPOSITORY_COMMANDS = {
    "add": ["repository", "add", "fresh", "-b", "fresh-bucket"],
    "add-default": ["repository", "add", "fresh", "-b", "fresh-bucket", "--default"],
    "modify": ["repository", "modify", "team", "-b", "other-bucket"],
    "remove": ["repository", "remove", "team"],
    "list": ["repository", "list"],
    "exists": ["repository", "exists", "team"],
    "download": ["download", "a", "-r", "team"],
}


@pytest.mark.parametrize("case", list(CORRUPT_REPOSITORIES))
def test_a_corrupt_repositories_file_is_reported_and_never_overwritten(
    tmp_path: Path, pipper_home: PipperHome, case: str
) -> None:
    path = pipper_home.home / "repositories.json"
    content = CORRUPT_REPOSITORIES[case]
    path.write_bytes(content)
    before = snapshot(tmp_path)
    for label, args in REPOSITORY_COMMANDS.items():
        result = cli(*args)
        line = assert_one_line_error(result, 2)
        assert str(path) in line, (label, line)
        assert path.read_bytes() == content, label
        assert snapshot(tmp_path) == before, label
