"""Tenant files on disk, under `{storage_dir}/storage/tenants/{tenant}/files/`.

The storage policy decides whether a path may be used; this module then
resolves it on disk (symbolic links included) and refuses, before every read,
write and delete, anything that does not land inside the tenant's own root.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from stack.errors import InvalidRequest

_FORBIDDEN = ("/", "\\", "\x00")


def policy_path(tenant: str, name: str) -> str:
    """The path the storage policy is asked about."""
    return f"storage/tenants/{tenant}/files/{name}"


def check_name(name: str) -> None:
    """Refuse names that are not a single path component, before any policy."""
    if not name or name in (".", "..") or any(part in name for part in _FORBIDDEN):
        raise InvalidRequest("a file name must be a single path component")


class FileStore:
    def __init__(self, storage_dir: Path) -> None:
        self.root = Path(storage_dir).resolve()

    def __repr__(self) -> str:
        return f"FileStore({str(self.root)!r})"

    def tenant_root(self, tenant: str) -> Path:
        return self.root / "storage" / "tenants" / tenant / "files"

    def locate(self, tenant: str, name: str) -> Path:
        """The resolved path of `name`, proven to lie inside the tenant's root."""
        root = self.tenant_root(tenant).resolve()
        path = (root / name).resolve()
        if path.parent != root or not path.is_relative_to(root):
            raise InvalidRequest("the file name leaves the tenant's storage")
        return path

    def write(self, tenant: str, name: str, data: bytes) -> None:
        self.tenant_root(tenant).mkdir(parents=True, exist_ok=True)
        path = self.locate(tenant, name)
        fd, staged = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(staged, self.locate(tenant, name))
        except BaseException:
            Path(staged).unlink(missing_ok=True)
            raise

    def read(self, tenant: str, name: str) -> bytes | None:
        path = self.locate(tenant, name)
        return path.read_bytes() if path.is_file() else None

    def delete(self, tenant: str, name: str) -> bool:
        path = self.locate(tenant, name)
        if not path.is_file():
            return False
        path.unlink()
        return True
