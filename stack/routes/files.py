"""Tenant files: the storage policy decides the path, the store proves it."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from stack.db import StoredFile
from stack.policy import Target
from stack.routes.common import Ctx
from stack.storage import check_name, policy_path

router = APIRouter(prefix="/v1")

FileName = Annotated[str, Path(min_length=1, max_length=255)]


def file_view(stored: StoredFile) -> dict[str, Any]:
    return {"name": stored.name, "size": stored.size, "sha256": stored.sha256}


def _allow_path(ctx: Ctx, action: str, name: str) -> Target:
    target = Target(action, "file", name)
    check_name(name)
    ctx.enforcer.storage(target, policy_path(ctx.principal.tenant, name))
    return target


@router.put("/files/{name}", status_code=201)
async def put_file(name: FileName, request: Request, ctx: Ctx) -> dict[str, Any]:
    await run_in_threadpool(_allow_path, ctx, "write", name)  # before any byte
    data = await request.body()  # bounded by BodyLimit while it streams in
    return await run_in_threadpool(_store, ctx, name, data)


def _store(ctx: Ctx, name: str, data: bytes) -> dict[str, Any]:
    ctx.services.files.write(ctx.principal.tenant, name, data)

    stored = ctx.scope.one(StoredFile, StoredFile.name == name)
    if stored is None:
        stored = ctx.scope.add(StoredFile(name=name, created_at=ctx.now))
    stored.size, stored.sha256 = len(data), hashlib.sha256(data).hexdigest()
    stored.updated_at = ctx.now
    ctx.session.commit()
    return file_view(stored)


@router.get("/files")
def list_files(ctx: Ctx) -> dict[str, Any]:
    ctx.enforcer.access(Target("list", "file"), ctx.principal.tenant)
    statement = ctx.scope.select(StoredFile).order_by(StoredFile.name)
    return {"items": [file_view(stored) for stored in ctx.session.scalars(statement)]}


@router.get("/files/{name}")
def read_file(name: FileName, ctx: Ctx) -> Response:
    target = _allow_path(ctx, "read", name)
    tenant = ctx.variant.file_tenant(ctx.principal, ctx.query)
    data = ctx.services.files.read(tenant, name)
    if data is None:
        ctx.enforcer.missing(target)
    return Response(data, media_type="application/octet-stream")


@router.delete("/files/{name}", status_code=204)
def delete_file(name: FileName, ctx: Ctx) -> Response:
    target = _allow_path(ctx, "delete", name)
    stored = ctx.scope.one(StoredFile, StoredFile.name == name)
    removed = ctx.services.files.delete(ctx.principal.tenant, name)
    if stored is None and not removed:
        ctx.enforcer.missing(target)
    if stored is not None:
        ctx.scope.delete(stored)
        ctx.session.commit()
    return Response(status_code=204)
