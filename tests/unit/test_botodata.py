"""botocore's data loader with its two savings: the same data and the same answers, read from
JSON once per file version, and one service looked up without listing them all."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from botocore.exceptions import UnknownServiceError
from botocore.loaders import Loader

from pipper.storage.botodata import data_loader


def _service(root: Path, body: dict[str, object]) -> Path:
    """A service of our own on an extra data path, as ``AWS_DATA_PATH`` would add one."""
    path = root / "pipperdemo" / "2020-01-01" / "service-2.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body))
    return path


def test_the_s3_model_is_botocore_s_own(tmp_path: Path) -> None:
    ours = data_loader(None, tmp_path / "kept").load_service_model("s3", "service-2")
    assert ours == Loader().load_service_model("s3", "service-2")
    again = data_loader(None, tmp_path / "kept").load_service_model("s3", "service-2")
    assert again == ours


def test_a_second_run_reads_no_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_loader(None, tmp_path / "kept").load_service_model("s3", "service-2")
    assert list((tmp_path / "kept").glob("*.marshal"))

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed JSON again")

    monkeypatch.setattr(json, "loads", refuse)  # botocore's own parse too
    model = data_loader(None, tmp_path / "kept").load_service_model("s3", "service-2")
    assert model["metadata"]["serviceId"] == "S3"


def test_a_file_that_changes_is_read_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    path = _service(data, {"version": 1})
    kept = tmp_path / "kept"
    assert data_loader(str(data), kept).load_service_model("pipperdemo", "service-2") == {
        "version": 1
    }
    path.write_text(json.dumps({"version": 22}))  # an upgrade: another size and time
    os.utime(path, ns=(1, 1))
    assert data_loader(str(data), kept).load_service_model("pipperdemo", "service-2") == {
        "version": 22
    }


def test_a_damaged_kept_file_is_parsed_from_json_again(tmp_path: Path) -> None:
    data, kept = tmp_path / "data", tmp_path / "kept"
    _service(data, {"version": 1})
    data_loader(str(data), kept).load_service_model("pipperdemo", "service-2")
    for made in kept.glob("*.marshal"):
        made.write_bytes(b"\x00not marshal")
    assert data_loader(str(data), kept).load_service_model("pipperdemo", "service-2") == {
        "version": 1
    }


def test_without_a_folder_nothing_is_kept(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _service(data, {"version": 1})
    loader = data_loader(str(data), None)
    assert loader.load_service_model("pipperdemo", "service-2") == {"version": 1}
    assert list(tmp_path.rglob("*.marshal")) == []


def test_one_service_is_found_without_listing_and_the_list_is_botocore_s(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    _service(data, {"version": 1})
    services = data_loader(str(data), None).list_available_services("service-2")
    assert "s3" in services
    assert "pipperdemo" in services
    assert "no-such-service" not in services
    assert "../s3" not in services
    plain = Loader(extra_search_paths=[str(data)]).list_available_services("service-2")
    assert list(services) == plain
    assert len(services) == len(plain)


def test_an_unknown_service_is_still_botocore_s_error(tmp_path: Path) -> None:
    with pytest.raises(UnknownServiceError, match="s3"):
        data_loader(None, None).load_service_model("no-such-service", "service-2")
