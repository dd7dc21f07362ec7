"""Tenant files and archives: the storage policy decides each path by its text,
the tenant root resolver proves it on disk at the moment of use.

A refusal is a 400 and an audit record: the policy's (`storage_path_invalid`)
or the resolver's (`storage_path_refused`, `archive_refused`, with the
problem in `detail`). A write past the tenant's storage quota is a 429.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from enforcement.storage import PathRefused, StoredEntry, read_archive
from stack.db import StoredFile
from stack.errors import LimitExceeded
from stack.policy import Target
from stack.routes.common import Ctx
from stack.storage import archive_path, file_path, policy_path

router = APIRouter(prefix="/v1")

FileName = Annotated[str, Path(min_length=1, max_length=255)]
MemberPath = Annotated[str, Path(min_length=1, max_length=1024)]
QUOTA_RETRY_AFTER = 60  # seconds; space frees only by a delete


def file_view(stored: StoredFile) -> dict[str, Any]:
    return {"name": stored.name, "size": stored.size, "sha256": stored.sha256}


def entry_view(entry: StoredEntry) -> dict[str, Any]:
    return {"path": entry.path, "size": entry.size, "sha256": entry.sha256}


def _allow(ctx: Ctx, action: str, relative: str, resource_id: str) -> Target:
    """The storage policy's answer for this path, audited if it is no."""
    target = Target(action, "file", resource_id)
    ctx.enforcer.storage(target, policy_path(ctx.principal.tenant, relative))
    return target


@contextmanager
def _resolver(ctx: Ctx, target: Target) -> Iterator[None]:
    """Turn the resolver's refusal into an audited 400."""
    try:
        yield
    except PathRefused as refused:
        ctx.enforcer.path_refused(target, refused)


# -- files ----------------------------------------------------------------------


@router.put("/files/{name}", status_code=201)
async def put_file(name: FileName, request: Request, ctx: Ctx) -> dict[str, Any]:
    target = await run_in_threadpool(_allow, ctx, "write", file_path(name), name)
    data = await request.body()  # bounded by BodyLimit while it streams in
    return await run_in_threadpool(_store, ctx, target, name, data)


def _store(ctx: Ctx, target: Target, name: str, data: bytes) -> dict[str, Any]:
    stored = ctx.scope.one(StoredFile, StoredFile.name == name)
    _check_quota(ctx, target, len(data) - (stored.size if stored else 0))
    with _resolver(ctx, target):
        ctx.services.files.write_bytes(ctx.principal.tenant, file_path(name), data)

    if stored is None:
        stored = ctx.scope.add(StoredFile(name=name, created_at=ctx.now))
    stored.size, stored.sha256 = len(data), hashlib.sha256(data).hexdigest()
    stored.updated_at = ctx.now
    ctx.session.commit()
    return file_view(stored)


def _check_quota(ctx: Ctx, target: Target, growth: int) -> None:
    """Refuse a write that would take the tenant past its storage quota. The
    tenant's lock is held until the request commits, so parallel writes are
    counted one after the other."""
    ctx.scope.lock_quota()
    tenant = ctx.scope.tenant()
    used = ctx.services.files.usage(ctx.principal.tenant)
    if tenant is not None and used + growth <= tenant.storage_quota_bytes:
        return
    ctx.enforcer.record("denied", "storage_quota_exceeded", target)
    raise LimitExceeded("your tenant has reached its storage quota", QUOTA_RETRY_AFTER)


@router.get("/files")
def list_files(ctx: Ctx) -> dict[str, Any]:
    ctx.enforcer.access(Target("list", "file"), ctx.principal.tenant)
    statement = ctx.scope.select(StoredFile).order_by(StoredFile.name)
    return {"items": [file_view(stored) for stored in ctx.session.scalars(statement)]}


@router.get("/files/{name}")
def read_file(name: FileName, ctx: Ctx) -> Response:
    target = _allow(ctx, "read", file_path(name), name)
    tenant = ctx.variant.file_tenant(ctx.principal, ctx.query)
    with _resolver(ctx, target):
        data = ctx.services.files.read_bytes(tenant, file_path(name))
    if data is None:
        ctx.enforcer.missing(target)
    return Response(data, media_type="application/octet-stream")


@router.delete("/files/{name}", status_code=204)
def delete_file(name: FileName, ctx: Ctx) -> Response:
    target = _allow(ctx, "delete", file_path(name), name)
    stored = ctx.scope.one(StoredFile, StoredFile.name == name)
    with _resolver(ctx, target):
        removed = ctx.services.files.delete(ctx.principal.tenant, file_path(name))
    if stored is None and not removed:
        ctx.enforcer.missing(target)
    if stored is not None:
        ctx.scope.delete(stored)
        ctx.session.commit()
    return Response(status_code=204)


# -- archives -------------------------------------------------------------------


@router.put("/archives/{name}", status_code=201)
async def put_archive(name: FileName, request: Request, ctx: Ctx) -> dict[str, Any]:
    """Extract a zip or tar into the tenant's `archives/{name}/`, all or nothing."""
    target = await run_in_threadpool(_allow, ctx, "write", archive_path(name), name)
    data = await request.body()
    return await run_in_threadpool(_extract, ctx, target, name, data)


def _extract(ctx: Ctx, target: Target, name: str, data: bytes) -> dict[str, Any]:
    with _resolver(ctx, target):
        members = read_archive(data)
    for member_path, _ in members:
        _allow(ctx, "write", archive_path(name, member_path), name)
    old = ctx.services.files.entries(ctx.principal.tenant, archive_path(name)) or []
    growth = sum(len(content) for _, content in members) - sum(e.size for e in old)
    _check_quota(ctx, target, growth)
    with _resolver(ctx, target):
        entries = ctx.services.files.extract_members(
            ctx.principal.tenant, members, archive_path(name)
        )
    ctx.session.commit()  # releases the quota lock
    return {"name": name, "members": [entry_view(entry) for entry in entries]}


@router.get("/archives/{name}")
def list_archive(name: FileName, ctx: Ctx) -> dict[str, Any]:
    target = _allow(ctx, "read", archive_path(name), name)
    with _resolver(ctx, target):
        entries = ctx.services.files.entries(ctx.principal.tenant, archive_path(name))
    if entries is None:
        ctx.enforcer.missing(target)
    return {"name": name, "members": [entry_view(entry) for entry in entries]}


@router.get("/archives/{name}/{member:path}")
def read_member(name: FileName, member: MemberPath, ctx: Ctx) -> Response:
    relative, resource_id = archive_path(name, member), f"{name}/{member}"
    target = Target("read", "file", resource_id)
    with _resolver(ctx, target):
        data = ctx.variant.read_stored(
            ctx.services.files,
            ctx.principal.tenant,
            relative,
            lambda: _allow(ctx, "read", relative, resource_id),
        )
    if data is None:
        ctx.enforcer.missing(target)
    return Response(data, media_type="application/octet-stream")


@router.delete("/archives/{name}", status_code=204)
def delete_archive(name: FileName, ctx: Ctx) -> Response:
    target = _allow(ctx, "delete", archive_path(name), name)
    with _resolver(ctx, target):
        removed = ctx.services.files.delete(ctx.principal.tenant, archive_path(name))
    if not removed:
        ctx.enforcer.missing(target)
    return Response(status_code=204)
