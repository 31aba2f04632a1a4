"""The simple index's pages as installers read them: PEP 503 HTML, PEP 691 JSON, and back."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from pipper.simple.pages import (
    API_VERSION,
    IndexFile,
    IndexPageError,
    ProjectPage,
    RootPage,
    find_links_html,
    html_serial,
    json_serial,
    parse_project,
    parse_root,
    project_html,
    project_json,
    root_html,
    root_json,
)


def entry(version: str, **changes: object) -> IndexFile:
    fields: dict[str, object] = {
        "filename": f"alpha_pkg-{version}-py3-none-any.whl",
        "version": version,
        "sha256": "ab" * 32,
        "size": 1234,
        "metadata_sha256": "cd" * 32,
        "bundle": f"pipper/alpha_pkg/v{version.replace('.', '-')}.pipper",
        "bundle_etag": '"etag"',
        "upload_time": "2026-01-28T10:00:00.000000Z",
    }
    fields.update(changes)
    return IndexFile(**fields)  # type: ignore[arg-type]


class Links(HTMLParser):
    """Every ``<a>`` of a page: its text and attributes, unescaped as installers read them."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, dict[str, str | None]]] = []
        self._open: dict[str, str | None] | None = None
        self.meta: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open = dict(attrs)
        if tag == "meta":
            found = dict(attrs)
            if found.get("name"):
                self.meta[str(found["name"])] = found.get("content")

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self.links.append((data, self._open))
            self._open = None


def links_of(page: bytes) -> Links:
    parser = Links()
    parser.feed(page.decode())
    return parser


PAGE = ProjectPage(
    "alpha-pkg",
    (
        entry("1.10.0", requires_python=">=3.9,<4", yanked=True, yank_reason="broke <login>"),
        entry("1.2.0"),
        entry("1.2.0", filename="alpha_pkg-1.2.0-cp311-cp311-manylinux_2_17_x86_64.whl"),
    ),
    serial=7,
)


def test_the_json_page_is_pep_691_with_every_field_an_installer_uses() -> None:
    document = json.loads(project_json(PAGE))
    assert document["meta"] == {"api-version": API_VERSION, "_last-serial": 7}
    assert document["name"] == "alpha-pkg"
    assert document["versions"] == ["1.2.0", "1.10.0"]  # by version, not by text
    names = [f["filename"] for f in document["files"]]
    assert names == [
        "alpha_pkg-1.2.0-cp311-cp311-manylinux_2_17_x86_64.whl",  # one entry per wheel file
        "alpha_pkg-1.2.0-py3-none-any.whl",
        "alpha_pkg-1.10.0-py3-none-any.whl",
    ]
    newest = document["files"][-1]
    assert newest["url"] == "alpha_pkg-1.10.0-py3-none-any.whl"
    assert newest["hashes"] == {"sha256": "ab" * 32}
    assert newest["requires-python"] == ">=3.9,<4"
    assert newest["core-metadata"] == newest["dist-info-metadata"] == {"sha256": "cd" * 32}
    assert newest["yanked"] == "broke <login>"
    assert (newest["size"], newest["upload-time"]) == (1234, "2026-01-28T10:00:00.000000Z")
    assert document["files"][0]["yanked"] is False
    assert document["files"][0]["requires-python"] is None


def test_the_json_page_reads_back_to_the_same_page() -> None:
    data = project_json(PAGE)
    assert parse_project(data, "page") == PAGE
    assert json_serial(data) == 7


def test_the_html_page_is_pep_503_with_hashes_metadata_and_yanks() -> None:
    page = links_of(project_html(PAGE))
    assert page.meta["pypi:repository-version"] == API_VERSION
    text, attributes = page.links[-1]
    assert text == "alpha_pkg-1.10.0-py3-none-any.whl"
    assert attributes["href"] == f"alpha_pkg-1.10.0-py3-none-any.whl#sha256={'ab' * 32}"
    assert attributes["data-requires-python"] == ">=3.9,<4"  # escaped in the page, read back
    assert attributes["data-core-metadata"] == f"sha256={'cd' * 32}"
    assert attributes["data-dist-info-metadata"] == f"sha256={'cd' * 32}"
    assert attributes["data-yanked"] == "broke <login>"
    assert "data-yanked" not in page.links[0][1]
    assert b"&gt;=3.9" in project_html(PAGE) and b"<login>" not in project_html(PAGE)
    assert html_serial(project_html(PAGE)) == 7


def test_a_yank_without_a_reason_is_an_empty_data_yanked_and_true() -> None:
    page = ProjectPage("alpha-pkg", (entry("1.0.0", yanked=True),))
    assert links_of(project_html(page)).links[0][1]["data-yanked"] == ""
    assert json.loads(project_json(page))["files"][0]["yanked"] is True
    assert parse_project(project_json(page), "page").files[0].yanked


def test_a_local_version_is_quoted_in_the_url() -> None:
    page = ProjectPage("alpha-pkg", (entry("1.0.0+ubuntu.1"),))
    assert json.loads(project_json(page))["files"][0]["url"].startswith("alpha_pkg-1.0.0%2Bubuntu")


def test_the_root_page_lists_projects_by_their_folder() -> None:
    root = RootPage(("beta", "alpha-pkg"), serial=3, folder_pages=False)
    assert [text for text, _ in links_of(root_html(root)).links] == ["alpha-pkg", "beta"]
    assert [a["href"] for _, a in links_of(root_html(root)).links] == ["alpha-pkg/", "beta/"]
    document = json.loads(root_json(root))
    assert document["projects"] == [{"name": "alpha-pkg"}, {"name": "beta"}]
    assert parse_root(root_json(root), "root") == root


def test_a_find_links_page_links_each_url_with_its_hash_and_no_metadata_file() -> None:
    url = "https://bkt.s3.amazonaws.com/pipper/~simple/alpha-pkg/w.whl?X-Amz-Signature=ab&X=1"
    page = find_links_html([(url, entry("1.0.0", requires_python=">=3.8"))])
    ((_, attributes),) = links_of(page).links
    assert attributes["href"] == f"{url}#sha256={'ab' * 32}"
    assert attributes["data-requires-python"] == ">=3.8"
    # pip would fetch <url>.metadata, and a presigned URL with a suffix is no URL at all.
    assert "data-core-metadata" not in attributes and "data-dist-info-metadata" not in attributes
    assert b"&amp;X=1" in page


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b'{"name": "a"}',
        b'{"name": "a", "files": [{"filename": "x.whl"}]}',
        b"[" * 200 + b"]" * 200,
        json.dumps(
            {"name": "a", "files": [{**json.loads(project_json(PAGE))["files"][0], "size": "x"}]}
        ).encode(),
        project_json(PAGE).replace(b"alpha_pkg-1.2.0-py3", b"../../evil-1.2.0-py3"),
    ],
)
def test_a_page_pipper_did_not_write_is_refused(data: bytes) -> None:
    with pytest.raises(IndexPageError):
        parse_project(data, "pipper/~simple/a/index.json")
    assert json_serial(b"not json") is None and html_serial(b"<html></html>") is None
