"""The operator's surface: tenants, their configuration, keys and tokens, the
audit log; and /health.

Every admin route depends on `operator_services`, which answers a wrong or
missing operator key (a tenant token included) with the ordinary 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from enforcement import audit as chain
from enforcement.tenancy import Tenancy
from stack import tenants
from stack.audit import append, as_dict, operator_query
from stack.auth import Principal, mint_token
from stack.clock import iso
from stack.context import (
    Services,
    operator_services,
    request_id_of,
    request_now,
    services_of,
)
from stack.db import Tenant
from stack.errors import NotFound
from stack.ids import TENANT_ID
from stack.keys import reencrypt_credentials, rotate_tenant
from stack.quotas import usage_view
from stack.routes.tenant import AuditLimit, RequestIdFilter, Seq
from stack.schemas import TokenCreate

router = APIRouter()

Operator = Annotated[Services, Depends(operator_services)]
TenantId = Annotated[str, Path(pattern=TENANT_ID)]
TenantFilter = Annotated[str, Query(max_length=300)]
JsonObject = Annotated[dict[str, Any], Body()]
BatchSize = Annotated[int, Query(ge=1, le=1000)]
MaxBatches = Annotated[int, Query(ge=1, le=1_000_000)]


@router.get("/health")
def health(request: Request) -> dict[str, str]:
    return {"status": "ok", "engine": services_of(request).settings.engine}


@router.post("/admin/tenants", status_code=201)
def create_tenant(body: JsonObject, services: Operator, request: Request) -> dict:
    config = tenants.parse_new(body)
    with services.audit.transaction() as session:
        # A tenant is provisioned inside its own context: row-level security
        # lets the new row in only because it is the context's tenant.
        Tenancy.enter(session, config.id)
        tenant = tenants.provision(
            session,
            services,
            config,
            request_now(request),
            request_id=request_id_of(request),
        )
    return tenants.tenant_view(tenant)


@router.get("/admin/tenants/{tenant_id}")
def read_tenant(tenant_id: TenantId, services: Operator) -> dict[str, Any]:
    with services.sessions() as session:
        Tenancy.enter(session, tenant_id)
        tenant = session.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFound()
        return {**tenants.tenant_view(tenant), "config_version": tenant.config_version}


@router.patch("/admin/tenants/{tenant_id}")
def update_tenant(
    tenant_id: TenantId, body: JsonObject, services: Operator, request: Request
) -> dict[str, Any]:
    """Change a tenant's configuration: settings replace, `limits` and
    `features` merge; validated as the tenants file is; audited."""
    tenant = tenants.update(
        services,
        tenant_id,
        body,
        request_now(request),
        request_id=request_id_of(request),
    )
    return {**tenants.tenant_view(tenant), "config_version": tenant.config_version}


@router.post("/admin/tenants/{tenant_id}/tokens", status_code=201)
def create_token(
    tenant_id: TenantId, body: TokenCreate, services: Operator, request: Request
) -> dict[str, str]:
    principal = Principal(tenant_id, body.user, tuple(body.roles))
    token, expires_at = mint_token(
        services.settings.jwt_secret, principal, body.ttl_seconds, request_now(request)
    )
    with services.audit.transaction() as session:
        Tenancy.enter(session, tenant_id)
        if session.get(Tenant, tenant_id) is None:
            raise NotFound()
        event = tenants.admin_event(
            "mint_token", "token", tenant_id, request_id_of(request)
        )
        append(session, event, request_now(request))
    return {"token": token, "expires_at": iso(expires_at)}


@router.get("/admin/tenants/{tenant_id}/usage")
def tenant_usage(tenant_id: TenantId, services: Operator) -> dict[str, Any]:
    """The tenant's authoritative usage: its agents, its executions per local
    day, and the quota counters beside them (what `tenantguard load` checks)."""
    with services.sessions() as session:
        Tenancy.enter(session, tenant_id)
        tenant = session.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFound()
        return usage_view(session, tenant)


@router.get("/admin/tenants/{tenant_id}/keys")
def key_status(
    tenant_id: TenantId, services: Operator, request: Request
) -> dict[str, Any]:
    """The tenant's key IDs and states, whether rotation is due, and how many
    credentials still wait for re-encryption. Never key material."""
    with services.sessions() as session:
        Tenancy.enter(session, tenant_id)
        tenant = session.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFound()
        return services.keys.status(session, tenant, request_now(request))


@router.post("/admin/tenants/{tenant_id}/keys/rotate")
def rotate_key(
    tenant_id: TenantId, services: Operator, request: Request
) -> dict[str, Any]:
    """A new primary key for this tenant only; its old keys open, never seal."""
    rotation = rotate_tenant(
        services.sessions,
        services.keys,
        tenant_id,
        now=request_now(request),
        request_id=request_id_of(request),
    )
    if rotation is None:
        raise NotFound()
    return {"primary": rotation.primary, "previous": list(rotation.previous)}


@router.post("/admin/tenants/{tenant_id}/keys/reencrypt")
async def reencrypt(
    tenant_id: TenantId,
    services: Operator,
    request: Request,
    batch_size: BatchSize = 50,
    max_batches: MaxBatches | None = None,
) -> dict[str, Any]:
    """Re-encrypt the tenant's credentials under its primary key, in batches
    committed one by one (resumable: call again, or use `tenantguard keys`)."""
    run = await run_in_threadpool(
        _reencrypt, services, request, tenant_id, batch_size, max_batches
    )
    return {
        "resealed": run.resealed,
        "batches": run.batches,
        "unreadable": len(run.unreadable),
        "finished": run.finished,
    }


def _reencrypt(services, request, tenant_id, batch_size, max_batches):
    with services.sessions() as session:
        Tenancy.enter(session, tenant_id)
        if session.get(Tenant, tenant_id) is None:
            raise NotFound()
    return reencrypt_credentials(
        services.sessions,
        services.keys,
        tenant_id,
        now=request_now(request),
        request_id=request_id_of(request),
        batch_size=batch_size,
        max_batches=max_batches,
    )


@router.get("/admin/audit")
def read_audit(
    services: Operator,
    tenant: TenantFilter | None = None,
    request_id: RequestIdFilter | None = None,
    after: Seq | None = None,
    limit: AuditLimit = 1000,
) -> dict[str, Any]:
    statement = operator_query(tenant, request_id, after).limit(limit)
    with services.sessions() as session:
        return {"records": [as_dict(row) for row in session.scalars(statement)]}


@router.get("/admin/audit/verify")
def verify_audit(services: Operator) -> dict[str, Any]:
    """The whole chain verified against its head (as `tenantguard audit verify`)."""
    with services.sessions() as session:
        records = list(chain.read_records(session))
        head = chain.read_head(session)
    result = chain.verify(records, head=head)
    return {
        "ok": result.ok,
        "records": result.count,
        "head": None if head is None else {"seq": head.seq, "hash": head.hash},
        "problems": [
            {"seq": p.seq, "kind": p.kind, "message": p.message}
            for p in result.problems
        ],
    }


@router.get("/admin/statements")
def statement_counts(services: Operator) -> dict[str, Any]:
    """What the statement guard has seen since the stack started: the proof
    that no statement reached a tenant table without its tenant predicate."""
    return services.statements.as_dict()
