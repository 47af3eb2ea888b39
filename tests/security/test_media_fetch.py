"""Task data cannot make the service fetch what the operator did not mean it to (issue 9.2).

Listener A plays Label Studio, listener B another host on 127.0.0.1 (an internal service).
The fetcher is the one the service gives to audits and /predict (Credentials.fetcher).
"""

from __future__ import annotations

import pytest

from backend.service.credentials import Credentials
from backend.settings import load_settings
from backend.store import MemoryStore

TOKEN = "5ec12e75ec12e75ec12e75ec12e75ec12e75ec12"
PNG = b"\x89PNG not really"


def fetcher(a_url: str, media_hosts: str = ""):
    settings = load_settings({"media_hosts": media_hosts}, environ={})
    return Credentials(settings, MemoryStore()).fetcher(a_url, TOKEN)


def serve(listener, path: str, status: int = 200, headers=None, body: bytes = PNG) -> None:
    listener.routes[path] = (status, headers or {}, body)


def test_label_studio_media_routes_are_fetched_with_the_token(listeners):
    a, _ = listeners
    serve(a, "/data/upload/1/cat.png")
    assert fetcher(a.url)("/data/upload/1/cat.png") == PNG
    assert fetcher(a.url)(a.url + "/data/upload/1/cat.png") == PNG
    assert a.authorizations() == [f"Token {TOKEN}"] * 2


@pytest.mark.parametrize(
    "ref",
    [
        "/data/upload/../../api/projects/1/export?exportType=JSON",
        "/data/upload/%2e%2e/%2e%2e/api/projects/1/export",
        "/data/upload//..//api/projects",
        "/api/projects/1/export",
    ],
)
def test_a_path_that_leaves_the_media_routes_is_refused_unasked(listeners, ref):
    a, _ = listeners
    serve(a, "/api/projects/1/export", body=b"[every task]")
    with pytest.raises(ValueError, match="refused") as caught:
        fetcher(a.url)(ref)
    assert a.seen == [] and "every task" not in str(caught.value)


def test_label_studio_s_host_serves_only_its_media_routes(listeners):
    a, _ = listeners
    with pytest.raises(ValueError, match="only its media routes"):
        fetcher(a.url)(a.url + "/api/projects/1/export")
    assert a.seen == []


@pytest.mark.parametrize(
    "ref",
    [
        "http://127.0.0.1:{b}/secret.png",
        "http://localhost:{b}/secret.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{b}/secret.png",
    ],
)
def test_other_hosts_are_refused_without_a_connection(listeners, ref):
    a, b = listeners
    serve(b, "/secret.png", body=b"internal secret")
    port = b.url.rsplit(":", 1)[1]
    with pytest.raises(ValueError, match="neither Label Studio nor on LABELAUDIT_MEDIA_HOSTS") as e:
        fetcher(a.url)(ref.format(b=port))
    assert b.seen == [] and "internal secret" not in str(e.value)


def test_a_host_on_the_list_is_fetched_without_the_token(listeners):
    a, b = listeners
    serve(b, "/bucket/cat.png")
    port = b.url.rsplit(":", 1)[1]
    assert fetcher(a.url, f"127.0.0.1:{port}")(b.url + "/bucket/cat.png") == PNG
    assert len(b.seen) == 1 and b.authorizations() == []


def test_a_listed_name_for_a_link_local_address_is_refused():
    with pytest.raises(ValueError, match="link-local or reserved address"):
        fetcher("http://127.0.0.1:9", "169.254.169.254")("http://169.254.169.254/latest/")


def test_redirects_are_checked_hop_by_hop(listeners):
    a, b = listeners
    serve(b, "/secret.png", body=b"internal secret")
    serve(a, "/data/upload/1/moved.png", 302, {"Location": b.url + "/secret.png"})
    serve(a, "/data/upload/1/api.png", 302, {"Location": "/api/projects/1/export"})
    with pytest.raises(ValueError, match="refused"):
        fetcher(a.url)("/data/upload/1/moved.png")
    with pytest.raises(ValueError, match="refused"):
        fetcher(a.url)("/data/upload/1/api.png")
    assert b.seen == [] and [path for _, path, _ in a.seen] == [
        "/data/upload/1/moved.png",
        "/data/upload/1/api.png",
    ]
    # A redirect to a listed host is followed, and the token stays with Label Studio.
    port = b.url.rsplit(":", 1)[1]
    serve(b, "/bucket/cat.png")
    serve(a, "/data/upload/1/s3.png", 302, {"Location": b.url + "/bucket/cat.png"})
    assert fetcher(a.url, f"127.0.0.1:{port}")("/data/upload/1/s3.png") == PNG
    assert b.authorizations() == []


def test_local_files_are_refused_in_the_service(tmp_path):
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0")
    for ref in (str(secret), secret.as_uri()):
        with pytest.raises(ValueError, match=r"refused .*local files"):
            fetcher("http://127.0.0.1:9")(ref)


def test_the_cli_reads_media_only_from_the_export_s_folder(tmp_path, capsys):
    """An export naming /etc-like files outside its folder gets them skipped, not read."""
    import json
    import shutil
    from pathlib import Path

    from backend.cli import main

    example = Path(__file__).parents[2] / "examples" / "image"
    folder = tmp_path / "export"
    shutil.copytree(example, folder)
    outside = tmp_path / "secret.png"
    shutil.copy(folder / "images" / "digit-0001.png", outside)
    tasks = json.loads((folder / "export.json").read_text())
    tasks[0]["data"]["image"] = str(outside)  # absolute, outside the folder
    tasks[1]["data"]["image"] = outside.as_uri()
    tasks[2]["data"]["image"] = "images/../../secret.png"  # climbs out
    (folder / "export.json").write_text(json.dumps(tasks))

    argv = ["audit", str(folder / "export.json"), "--quiet", "--out"]
    assert main([*argv, str(tmp_path / "a")]) == 0
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    refused = [s for s in summary["skipped"]["items"] if "refused to read" in s["reason"]]
    assert len(refused) == 3 and "--allow-local-media" in refused[0]["reason"]

    assert main([*argv, str(tmp_path / "b"), "--allow-local-media"]) == 0
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert not [s for s in summary["skipped"]["items"] if "refused" in s["reason"]]
    capsys.readouterr()
