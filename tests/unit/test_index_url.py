"""What ``pipper index url`` tells a uv user: the URL of the index and the variables uv signs
with, for AWS S3 (virtual-hosted, signed for the region's endpoint) and any other endpoint."""

from __future__ import annotations

from pipper.cli.index import uv_settings
from pipper.repositories import Repository


def test_aws_gets_the_virtual_hosted_url_and_the_regional_endpoint() -> None:
    lines = uv_settings(
        Repository(bucket="team-pkgs", root_prefix="team/py"),
        "https://s3.eu-west-1.amazonaws.com",
        "eu-west-1",
    )
    assert lines == [
        "export UV_S3_ENDPOINT_URL=https://s3.eu-west-1.amazonaws.com",
        "export UV_PREVIEW_FEATURES=s3-endpoint",
        "export AWS_REGION=eu-west-1",
        "uv pip install --index-url "
        "https://team-pkgs.s3.eu-west-1.amazonaws.com/team/py/~simple/ PACKAGE",
    ]


def test_another_endpoint_gets_a_path_style_url() -> None:
    lines = uv_settings(Repository(bucket="pkgs"), "http://127.0.0.1:9000/", None)
    assert lines[0] == "export UV_S3_ENDPOINT_URL=http://127.0.0.1:9000"
    assert "AWS_REGION" not in "".join(lines)
    assert (
        lines[-1] == "uv pip install --index-url http://127.0.0.1:9000/pkgs/pipper/~simple/ PACKAGE"
    )
