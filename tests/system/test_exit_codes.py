"""Exit codes a script can rely on: pipper's own, documented in the README, never pip's.

The installer's and the build's failures get codes of their own (their own codes would collide
with pipper's: pip's 2 reads as "bad usage"), and the README's table is checked against
``pipper/errors.py`` and against what the command line really returns.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipper import errors
from pipper.errors import BuildError, InstallError, NotFoundError, PipperError, ResolutionError
from tests.lib.cli import REPO_ROOT, cli, publish_graph
from tests.lib.wheels import make_bundle

pytestmark = pytest.mark.usefixtures("isolated_installers")

_ROW = re.compile(r"^\| (\d+) \| (.+) \|$")


def readme_exit_codes() -> dict[int, str]:
    """``{code: meaning}`` from the README's exit-code table."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("| exit | meaning |") :].split("\n\n", 1)[0]
    return {int(m[1]): m[2] for line in table.splitlines() if (m := _ROW.match(line))}


def error_classes() -> list[type[PipperError]]:
    return [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, PipperError)
    ]


def test_the_readme_documents_every_exit_code_and_no_other() -> None:
    classes = error_classes()
    assert set(readme_exit_codes()) == {0} | {cls.exit_code for cls in classes}
    for a in classes:
        for b in classes:
            if a.exit_code == b.exit_code:
                assert issubclass(a, b) or issubclass(b, a), f"{a} and {b} share a code"


def test_a_version_never_published_is_the_resolution_code(tmp_path: Path) -> None:
    repo = ["-b", str(tmp_path / "repo")]
    publish_graph(tmp_path, repo, {"alpha": {"1.0.0": []}})
    target = str(tmp_path / "t")

    missing_version = cli("install", "alpha:9.9.9", "--dry-run", "-t", target, *repo)
    assert missing_version.exit_code == ResolutionError.exit_code == 4
    assert "no version of alpha satisfies every constraint: ==9.9.9" in missing_version.stderr
    assert "never published" in readme_exit_codes()[missing_version.exit_code]

    missing_package = cli("install", "nope", "--dry-run", "-t", target, *repo)
    assert missing_package.exit_code == NotFoundError.exit_code == 3
    assert "package nope was not found" in missing_package.stderr
    assert "package" in readme_exit_codes()[missing_package.exit_code]


@pytest.mark.slow
@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_a_real_installer_failure_has_pippers_code_and_names_the_installers(
    tmp_path: Path, installer: str
) -> None:
    vendor = tmp_path / "vendor"
    make_bundle(vendor, "broken", "1.0.0", requires=["nonexistent-dep"])
    # --private-only hands the requirement to the installer (else pipper names it first).
    args = ["install", "--from", str(vendor), "broken", "-t", str(tmp_path / "t"), "--private-only"]
    result = cli(*args, "--installer", installer, "--json")

    assert result.exit_code == InstallError.exit_code == 10
    data = result.json()
    assert isinstance(data, dict)
    assert data["installer_ran"] is True
    code = data["installer_exit_code"]
    assert isinstance(code, int) and code not in (0, InstallError.exit_code)
    last = result.stderr.strip().splitlines()[-1]
    what = "uv pip install" if installer == "uv" else "pip install"
    assert last == f"error: {data['error']}"
    assert last.startswith(f"error: {what} failed with exit code {code}: ")
    assert "nonexistent-dep" in last
    assert not (tmp_path / "t").exists() or not list((tmp_path / "t").glob("*.dist-info"))


def test_a_failing_setup_py_gives_the_build_code_and_its_last_lines(tmp_path: Path) -> None:
    project = tmp_path / "broken"
    project.mkdir()
    (project / "setup.py").write_text(
        "print('configuring the broken project')\n"
        "def configure():\n"
        "    raise RuntimeError('the-setup-py-marker exploded')\n"
        "configure()\n"
    )
    out = tmp_path / "out"
    result = cli("bundle", str(project), "-o", str(out), "--no-build-isolation")

    assert result.exit_code == BuildError.exit_code == 11
    lines = result.stderr.strip().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("error: "))
    message = lines[start:]
    assert message[0] == f"error: building a wheel of {project} failed (pip exited with code 1):"
    assert message[1:] == [
        "  configuring the broken project",
        "  RuntimeError: the-setup-py-marker exploded",
    ]
    assert not out.exists() or not list(out.iterdir())
