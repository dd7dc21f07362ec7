"""Tenant files: names the storage policy allows, paths proven on disk."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import yaml

VECTORS = yaml.safe_load((Path(__file__).parent / "vectors.yaml").read_text())
BAD_NAMES = VECTORS["bad_file_names"]
MIB = 1024 * 1024


def test_put_then_get_the_same_bytes(acme):
    data = b"\x00binary\xffcontent"

    stored = acme.put("/v1/files/report.txt", content=data)
    read = acme.get("/v1/files/report.txt")

    assert stored.status_code == 201
    assert stored.json() == {
        "name": "report.txt",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert read.status_code == 200
    assert read.content == data
    assert read.headers["content-type"] == "application/octet-stream"


def test_bytes_land_under_the_tenants_root(stack, acme):
    acme.put("/v1/files/report.txt", content=b"x")

    path = stack.settings.storage_dir / "storage/tenants/acme/files/report.txt"

    assert path.read_bytes() == b"x"


def test_viewer_cannot_write(stack):
    viewer = stack.tenant("acme", roles=("viewer",))

    assert viewer.put("/v1/files/report.txt", content=b"x").status_code == 403


def test_overwrite_keeps_one_entry(acme):
    acme.put("/v1/files/a.txt", content=b"one")
    acme.put("/v1/files/a.txt", content=b"three")

    assert acme.get("/v1/files").json() == {
        "items": [
            {"name": "a.txt", "size": 5, "sha256": hashlib.sha256(b"three").hexdigest()}
        ]
    }


def test_admin_deletes(acme):
    acme.put("/v1/files/a.txt", content=b"x")

    assert acme.delete("/v1/files/a.txt").status_code == 204
    assert acme.get("/v1/files/a.txt").status_code == 404
    assert acme.get("/v1/files").json() == {"items": []}


def test_member_cannot_delete(stack, acme):
    acme.put("/v1/files/a.txt", content=b"x")
    member = stack.tenant("acme", roles=("member",))

    assert member.delete("/v1/files/a.txt").status_code == 403
    assert acme.get("/v1/files/a.txt").status_code == 200


def test_missing_file_is_not_found(acme):
    assert acme.get("/v1/files/none.txt").status_code == 404
    assert acme.delete("/v1/files/none.txt").status_code == 404


def test_file_of_the_same_name_in_another_tenant_is_not_reachable(acme, globex):
    globex.put("/v1/files/report.txt", content=b"globex data")

    response = acme.get("/v1/files/report.txt")

    assert response.status_code == 404
    assert b"globex" not in response.content


def test_file_up_to_5_mib_is_stored(acme):
    assert acme.put("/v1/files/big.bin", content=b"x" * (5 * MIB)).status_code == 201


def test_file_over_5_mib_is_refused_before_storage(stack, acme):
    response = acme.put("/v1/files/big.bin", content=b"x" * (5 * MIB + 1))

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert not (
        stack.settings.storage_dir / "storage/tenants/acme/files/big.bin"
    ).exists()


def test_streamed_file_over_5_mib_is_refused(acme):
    def chunks():
        for _ in range(6):
            yield b"x" * MIB

    response = acme.put("/v1/files/big.bin", content=chunks())

    assert response.status_code == 413


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_bad_file_names_touch_nothing(stack, acme, method, name):
    before = _tree(stack.settings.storage_dir)

    response = acme.request(method, f"/v1/files/{name}", content=b"payload")

    assert response.status_code in (400, 404), response.text
    assert _tree(stack.settings.storage_dir) == before


def test_symlink_out_of_the_root_is_refused(stack, acme, globex):
    globex.put("/v1/files/secret.txt", content=b"globex secret")
    root = stack.settings.storage_dir / "storage/tenants/acme/files"
    root.mkdir(parents=True, exist_ok=True)
    target = stack.settings.storage_dir / "storage/tenants/globex/files/secret.txt"
    os.symlink(target, root / "link.txt")

    read = acme.get("/v1/files/link.txt")
    written = acme.put("/v1/files/link.txt", content=b"overwrite")

    assert read.status_code == written.status_code == 400
    assert target.read_bytes() == b"globex secret"


def _tree(root: Path) -> set[tuple[str, bytes]]:
    return {
        (str(path.relative_to(root)), path.read_bytes())
        for path in root.rglob("*")
        if path.is_file() and "storage" in path.parts
    }
