"""Group E over HTTP: every storage path form is refused with a 4xx and audited.

Each form of harness/vectors/storage_paths.json (templated with the caller's
and another tenant's IDs) is sent as a file name and as an archive member
path, so the storage layer sees exactly the vector's text; a planted link,
a planted hard link and archives with escaping members are refused too.
Nothing is written outside the caller's root, and every refusal has an
audit record carrying the response's X-Request-ID.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import urllib.parse
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stack import Settings, create_app
from tests.stack.conftest import JWT_SECRET, KEK, OPERATOR_KEY, FixedClock, Stack

REPO = Path(__file__).resolve().parents[2]
VECTORS = json.loads((REPO / "harness/vectors/storage_paths.json").read_text())
ATTACKS = [v for v in VECTORS if v["technique"] != "E-control"]
SECRET = b"globex secret"


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One stack for the module: acme attacks, globex holds a file."""
    settings = Settings(
        storage_dir=tmp_path_factory.mktemp("stack"),
        operator_key=OPERATOR_KEY,
        jwt_secret=JWT_SECRET,
        key_encryption_key=KEK,
    )
    with TestClient(create_app(settings, clock=FixedClock())) as client:
        stack = Stack(client, settings)
        acme, globex = stack.tenant("acme"), stack.tenant("globex")
        assert globex.put("/v1/files/secret.txt", content=SECRET).status_code == 201
        packed = acme.put("/v1/archives/pack", content=zip_of(("a.txt", b"A")))
        assert packed.status_code == 201
        yield stack, acme


def encoded(text: str, *, keep_slashes: bool) -> str:
    """Percent-encode so that the server decodes exactly `text` (dots too:
    a client would otherwise resolve `..` before sending)."""
    quoted = urllib.parse.quote(text, safe="/" if keep_slashes else "")
    return quoted.replace(".", "%2E")


def below_root(path: str) -> str:
    for prefix in ("storage/tenants/acme/files/", "storage/tenants/acme/"):
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path


def sent_forms(vector: dict) -> dict[str, tuple[str, str]]:
    path = vector["path"].replace("{own}", "acme").replace("{other}", "globex")
    rest = below_root(path)
    return {
        "file-name": ("PUT", f"/v1/files/{encoded(rest, keep_slashes=False)}"),
        "file-read": ("GET", f"/v1/files/{encoded(rest, keep_slashes=False)}"),
        "whole-path": ("GET", f"/v1/files/{encoded(path, keep_slashes=False)}"),
        "member": ("GET", f"/v1/archives/pack/{encoded(rest, keep_slashes=True)}"),
    }


def assert_refused_and_audited(stack: Stack, response, label: str) -> None:
    assert 400 <= response.status_code < 500, (label, response.status_code)
    request_id = response.headers["X-Request-ID"]
    records = stack.audit(request_id=request_id)
    assert records, f"{label}: no audit record for {request_id}"
    assert all(r["decision"] == "deny" for r in records)
    assert SECRET not in response.content


@pytest.mark.parametrize(
    "vector", ATTACKS, ids=lambda v: f"{v['technique']}-{v['form']}"
)
@pytest.mark.parametrize("form", ["file-name", "file-read", "whole-path", "member"])
def test_every_group_e_form_is_refused_with_4xx_and_audited(shared, vector, form):
    stack, acme = shared
    method, url = sent_forms(vector)[form]

    response = acme.request(method, url, content=b"planted by the attacker")

    assert_refused_and_audited(stack, response, f"{form} {url}")
    globex_file = stack.settings.storage_dir / "storage/tenants/globex/files/secret.txt"
    assert globex_file.read_bytes() == SECRET


def test_a_symlink_planted_in_the_root_is_refused_and_audited(shared):
    stack, acme = shared
    root = stack.settings.storage_dir / "storage/tenants/acme"
    target = stack.settings.storage_dir / "storage/tenants/globex/files/secret.txt"
    (root / "files").mkdir(exist_ok=True)
    os.symlink(target, root / "files/planted.txt")
    os.symlink(target.parent, root / "archives/pack/dir")

    for method, url in [
        ("GET", "/v1/files/planted.txt"),
        ("PUT", "/v1/files/planted.txt"),
        ("DELETE", "/v1/files/planted.txt"),
        ("GET", "/v1/archives/pack/dir/secret.txt"),
    ]:
        response = acme.request(method, url, content=b"overwrite")
        assert_refused_and_audited(stack, response, url)
        if method != "DELETE":
            record = stack.audit(request_id=response.headers["X-Request-ID"])[-1]
            assert record["reason"] == "storage_path_refused"
            assert json.loads(record["detail"])["problem"] == "symlink"
    assert target.read_bytes() == SECRET


def test_a_hard_link_planted_in_the_root_is_refused(shared):
    stack, acme = shared
    root = stack.settings.storage_dir / "storage/tenants/acme/files"
    root.mkdir(exist_ok=True)
    os.link(
        stack.settings.storage_dir / "storage/tenants/globex/files/secret.txt",
        root / "hard.txt",
    )

    response = acme.get("/v1/files/hard.txt")

    assert_refused_and_audited(stack, response, "hard link")
    record = stack.audit(request_id=response.headers["X-Request-ID"])[-1]
    assert json.loads(record["detail"])["problem"] == "hard_link"  # fmt: skip


def zip_of(*members: tuple[str, bytes], mode: int | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, data in members:
            info = zipfile.ZipInfo(name)
            if mode is not None:
                info.external_attr = mode << 16
            bundle.writestr(info, data)
    return buffer.getvalue()


def tar_link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as bundle:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = kind, target
        bundle.addfile(info)
    return buffer.getvalue()


BAD_ARCHIVES = {
    "zip-dotdot": zip_of(("../../globex/files/secret.txt", b"x")),
    "zip-absolute": zip_of(("/etc/passwd", b"x")),
    "zip-backslash": zip_of(("..\\..\\globex\\x", b"x")),
    "zip-symlink": zip_of(("l", b"/etc"), mode=0o120777),
    "tar-symlink": tar_link("l", "../../globex/files"),
    "tar-hardlink": tar_link("h", "../../globex/files/secret.txt", tarfile.LNKTYPE),
    "garbage": b"not an archive at all",
}


@pytest.mark.parametrize("name", BAD_ARCHIVES)
def test_an_archive_whose_members_leave_the_root_is_refused_and_audited(shared, name):
    stack, acme = shared

    response = acme.put(f"/v1/archives/{name}", content=BAD_ARCHIVES[name])

    assert response.status_code == 400
    assert_refused_and_audited(stack, response, name)
    record = stack.audit(request_id=response.headers["X-Request-ID"])[-1]
    assert (record["event"], record["reason"]) == ("denied", "archive_refused")
    assert acme.get(f"/v1/archives/{name}").status_code == 404


def test_a_good_archive_is_extracted_read_listed_and_deleted(stack, acme):
    archive = zip_of(("docs/a.txt", b"A"), ("b.txt", b"BB"))

    created = acme.put("/v1/archives/pack.zip", content=archive)
    listed = acme.get("/v1/archives/pack.zip")

    assert created.status_code == 201, created.text
    assert [m["path"] for m in created.json()["members"]] == ["docs/a.txt", "b.txt"]
    assert [(m["path"], m["size"]) for m in listed.json()["members"]] == [
        ("b.txt", 2),
        ("docs/a.txt", 1),
    ]
    assert acme.get("/v1/archives/pack.zip/docs/a.txt").content == b"A"
    assert acme.delete("/v1/archives/pack.zip").status_code == 204
    assert acme.get("/v1/archives/pack.zip/docs/a.txt").status_code == 404


def test_archives_are_per_tenant(stack, acme, globex):
    globex.put("/v1/archives/pack", content=zip_of(("s.txt", SECRET)))

    assert acme.get("/v1/archives/pack").status_code == 404
    assert acme.get("/v1/archives/pack/s.txt").status_code == 404


def test_a_viewer_cannot_extract(stack):
    viewer = stack.tenant("acme", roles=("viewer",))

    response = viewer.put("/v1/archives/pack", content=zip_of(("a", b"a")))

    assert response.status_code == 403
