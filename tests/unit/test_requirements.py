"""The one graph's pure parts: what a bundle requires, markers for the target, the split rule.

No server and no index: requirement strings, marker environments, wheels written with
``zipfile`` and a lookup that answers from a set of names.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from pipper.bundle import read_bundle
from pipper.errors import BundleError
from pipper.graph import Rule
from pipper.install.environment import marker_environment
from pipper.models import Candidate
from pipper.requirements import (
    PublicRequirement,
    applicable,
    declaration_warnings,
    declared_in_metadata,
    declared_of_meta,
    describe_requirements,
    requires_dist_of_bundle,
    requires_dist_of_wheel,
)
from tests.lib.wheels import make_bundle, make_wheel

PY310_LINUX = {
    "python_version": "3.10",
    "python_full_version": "3.10.4",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "platform_machine": "x86_64",
    "platform_release": "",
    "platform_version": "",
    "implementation_version": "3.10.4",
}
PY312_WINDOWS = {
    **PY310_LINUX,
    "python_version": "3.12",
    "python_full_version": "3.12.1",
    "sys_platform": "win32",
    "platform_system": "Windows",
    "os_name": "nt",
}

REQUIRES = [
    "requests>=2",
    'tomli>=1; python_version < "3.11"',
    'colorama; sys_platform == "win32"',
    'pytest; extra == "test"',
    "beta_pkg[fast]>=1.0",
]


def names(found: Sequence[object]) -> list[str]:
    return [str(getattr(r, "name", r)) for r in found]


# -- markers for the target ---------------------------------------------------------------------


def test_markers_are_evaluated_for_the_environment_given() -> None:
    on_310 = applicable(REQUIRES, PY310_LINUX, where="app 1.0.0")
    on_312 = applicable(REQUIRES, PY312_WINDOWS, where="app 1.0.0")
    assert names(on_310) == ["requests", "tomli", "beta_pkg"]
    assert names(on_312) == ["requests", "colorama", "beta_pkg"]


def test_an_extra_only_requirement_is_never_part_of_the_graph() -> None:
    assert "pytest" not in names(applicable(REQUIRES, PY310_LINUX, where="x"))


def test_the_environment_is_asked_for_only_when_a_marker_needs_it() -> None:
    asked: list[int] = []

    def environment() -> Mapping[str, str]:
        asked.append(1)
        return PY310_LINUX

    assert names(applicable(["a", "b>=1"], environment, where="x")) == ["a", "b"]
    assert asked == []
    applicable(['c; os_name == "nt"', 'd; os_name == "posix"'], environment, where="x")
    assert asked == [1]  # once for the whole list


def test_an_invalid_requirement_names_the_bundle() -> None:
    with pytest.raises(BundleError, match=r"app 1\.0\.0 requires 'requests >>= 2'"):
        applicable(["requests >>= 2"], PY310_LINUX, where="app 1.0.0")


def test_another_interpreters_markers_come_from_that_interpreter() -> None:
    import sys

    probed = marker_environment(Path(sys.executable))
    here = marker_environment(None)
    assert probed == here  # the same interpreter, asked in a subprocess and in process
    assert probed["python_version"] == f"{sys.version_info.major}.{sys.version_info.minor}"


# -- what a bundle declares ---------------------------------------------------------------------


def test_bundle_records_the_wheels_requirements(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path, "app", "1.0.0", dependencies=["lib"], requires=REQUIRES)
    meta = read_bundle(bundle)
    assert meta.requires_dist == tuple(REQUIRES)
    assert meta.dependencies == ("lib",)


def test_a_bundle_without_the_field_is_read_from_its_wheel(tmp_path: Path) -> None:
    """The original's bundles have no requires_dist: the wheel inside says."""
    wheel = make_wheel(tmp_path / "w", "old", "1.0.0", requires=["requests>=2", "lib"])
    bundle = tmp_path / "old-v1-0-0.pipper"
    meta = {"name": "old", "version": "1.0.0", "wheel_name": wheel.name, "dependencies": []}
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.write(wheel, "package.whl")
        zf.writestr("package.meta", json.dumps(meta))
    assert read_bundle(bundle).requires_dist is None
    assert requires_dist_of_bundle(bundle, "old 1.0.0") == ("requests>=2", "lib")


def test_a_wheel_without_metadata_is_a_bundle_error() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("x/__init__.py", "")
    buffer.seek(0)
    with pytest.raises(BundleError, match="no single"):
        requires_dist_of_wheel(buffer, "x 1.0")


def test_meta_fields_of_the_wrong_type_are_refused() -> None:
    with pytest.raises(BundleError, match="'requires_dist' must be a list of strings"):
        declared_of_meta({"requires_dist": "requests"}, "x")
    with pytest.raises(BundleError, match="'pypi' must be a list of strings"):
        declared_of_meta({"pypi": [1]}, "x")


def test_object_metadata_without_the_field_says_so() -> None:
    old = declared_in_metadata({"package": json.dumps({"dependencies": ["a"]})}, "k")
    new = declared_in_metadata(
        {"package": json.dumps({"dependencies": [], "requires_dist": ["r"], "pypi": ["p"]})}, "k"
    )
    assert old is not None and old.requires_dist is None
    assert new is not None and (new.requires_dist, new.pypi) == (("r",), ("p",))
    assert declared_in_metadata({"package": "{not json"}, "k") is None
    assert declared_in_metadata({}, "k") is None


# -- the rule -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_name_the_repository_holds_is_private_everything_else_public() -> None:
    held = {"beta-pkg"}

    async def lookup(name: str) -> list[Candidate]:
        if name.replace("_", "-").lower() in held:
            return [Candidate(name, "1.0.0", f"pipper/{name}/v1-0-0.pipper", 1, "e")]
        return []

    rule = Rule(lambda: PY310_LINUX, lookup)
    private, public = await rule.split(REQUIRES, where="app 1.0.0", by="app 1.0.0")
    assert [(p.name, str(p.specifier)) for p in private] == [("beta_pkg", ">=1.0")]
    assert [str(p) for p in public] == [
        "requests>=2 (from app 1.0.0)",
        'tomli>=1; python_version < "3.11" (from app 1.0.0)',
    ]


def test_requirements_are_described_with_who_required_them() -> None:
    found = [PublicRequirement("requests>=2", "app 1.0.0"), PublicRequirement("six")]
    assert describe_requirements(found) == "requests>=2 (from app 1.0.0), six (from requested)"
    many = [PublicRequirement(f"p{i}") for i in range(10)]
    assert describe_requirements(many, limit=2).endswith("and 8 more")


def test_bundle_warns_where_pipper_json_and_the_wheel_disagree() -> None:
    project = {"dependencies": ["lib", "gone:1.*"], "pypi": ["requests>=2"]}
    wheel = ["lib>=1", "requests>=2", "extra-private", 'pytest; extra == "test"']
    assert declaration_warnings(project, wheel) == [
        "pipper.json lists gone under dependencies, but the wheel does not require it",
        "the wheel requires extra-private, which pipper.json lists neither under "
        "dependencies nor under pypi",
    ]
    assert declaration_warnings({}, wheel) == []  # declared once, in pyproject.toml
