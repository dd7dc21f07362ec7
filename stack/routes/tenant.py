"""The caller's own tenant: its configuration and its audit records."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from stack.audit import TENANT_HIDDEN, as_dict, tenant_filters
from stack.policy import Target
from stack.routes.common import Ctx

router = APIRouter(prefix="/v1")

AuditLimit = Annotated[int, Query(ge=1, le=1000)]
Seq = Annotated[int, Query(ge=0, le=2**62)]
RequestIdFilter = Annotated[str, Query(max_length=64)]


@router.get("/config")
def read_config(ctx: Ctx) -> dict[str, Any]:
    target = Target("read", "config", ctx.principal.tenant)
    ctx.enforcer.access(target, ctx.principal.tenant)
    tenant = ctx.scope.tenant()
    if tenant is None:
        ctx.enforcer.missing(target)
    return {"id": tenant.id, **tenant.config()}


@router.get("/audit")
def read_own_audit(
    ctx: Ctx,
    request_id: RequestIdFilter | None = None,
    after: Seq | None = None,
    limit: AuditLimit = 1000,
) -> dict[str, Any]:
    ctx.enforcer.access(Target("list", "audit"), ctx.principal.tenant)
    statement = ctx.scope.audit_records(*tenant_filters(request_id, after)).limit(limit)
    rows = ctx.session.scalars(statement)
    return {"records": [as_dict(row, hidden=TENANT_HIDDEN) for row in rows]}
