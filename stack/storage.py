"""Where the stack keeps a tenant's bytes, under `enforcement.storage`'s roots.

    {storage_dir}/storage/tenants/{tenant}/files/{name}           PUT /v1/files
    {storage_dir}/storage/tenants/{tenant}/archives/{name}/...    PUT /v1/archives

The storage policy decides each path by its text; `TenantStorage` then proves
it on disk at the moment of use (no link followed, one-link regular files).
"""

from __future__ import annotations

from enforcement.storage import PathRefused, TenantStorage

__all__ = ["PathRefused", "TenantStorage", "archive_path", "file_path", "policy_path"]

FILES = "files"
ARCHIVES = "archives"


def file_path(name: str) -> str:
    return f"{FILES}/{name}"


def archive_path(name: str, member: str | None = None) -> str:
    return f"{ARCHIVES}/{name}" if member is None else f"{ARCHIVES}/{name}/{member}"


def policy_path(tenant: str, relative: str) -> str:
    """The path the storage policy is asked about."""
    return f"storage/tenants/{tenant}/{relative}"
