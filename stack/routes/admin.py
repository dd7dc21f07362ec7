"""The operator's surface: tenants, their tokens, the audit log; and /health.

Every admin route depends on `operator_services`, which answers a wrong or
missing operator key (a tenant token included) with the ordinary 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from enforcement import EngineError
from enforcement.tenancy import Tenancy
from stack.audit import AuditEvent, append, as_dict, operator_query
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
from stack.errors import Conflict, NotFound, Unavailable
from stack.ids import TENANT_ID
from stack.routes.tenant import AuditLimit, RequestIdFilter, Seq
from stack.schemas import TenantCreate, TokenCreate

router = APIRouter()

Operator = Annotated[Services, Depends(operator_services)]
TenantId = Annotated[str, Path(pattern=TENANT_ID)]
TenantFilter = Annotated[str, Query(max_length=300)]


def tenant_view(tenant: Tenant) -> dict[str, Any]:
    return {"id": tenant.id, **tenant.config()}


@router.get("/health")
def health(request: Request) -> dict[str, str]:
    return {"status": "ok", "engine": services_of(request).settings.engine}


@router.post("/admin/tenants", status_code=201)
def create_tenant(
    body: TenantCreate, services: Operator, request: Request
) -> dict[str, Any]:
    now = request_now(request)
    key_id, wrapped_key = services.keyring.new_tenant_key(body.id)
    tenant = Tenant(
        id=body.id,
        plan=body.plan,
        limits=body.limits.model_dump(),
        features=body.features,
        key_id=key_id,
        wrapped_key=wrapped_key,
        quota_epoch=0,
        created_at=now,
    )
    with services.audit.transaction() as session:
        # A tenant is provisioned inside its own context: row-level security
        # lets the new row in only because it is the context's tenant.
        Tenancy.enter(session, tenant.id)
        _insert_tenant(session, tenant)
        _publish(services, tenant)
        _audit_admin(session, request, "create", "tenant", tenant.id)
    return tenant_view(tenant)


def _insert_tenant(session: Session, tenant: Tenant) -> None:
    if session.get(Tenant, tenant.id) is not None:
        raise Conflict(f"tenant {tenant.id!r} already exists")
    session.add(tenant)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"tenant {tenant.id!r} already exists") from None


def _publish(services: Services, tenant: Tenant) -> None:
    """Give the policies the tenant's configuration, or fail the creation."""
    try:
        services.engine.put_data(f"tenants/{tenant.id}", tenant.config())
    except EngineError:
        raise Unavailable("the policy engine did not accept the tenant") from None


def _audit_admin(
    session: Session, request: Request, action: str, resource_type: str, tenant_id: str
) -> None:
    event = AuditEvent(
        event="admin",
        decision="allow",
        reason="operator",
        request_id=request_id_of(request),
        actor_user="operator",
        action=action,
        resource_type=resource_type,
        resource_id=tenant_id,
        target_tenant=tenant_id,
    )
    append(session, event, request_now(request))


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
        _audit_admin(session, request, "mint_token", "token", tenant_id)
    return {"token": token, "expires_at": iso(expires_at)}


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


@router.get("/admin/statements")
def statement_counts(services: Operator) -> dict[str, Any]:
    """What the statement guard has seen since the stack started: the proof
    that no statement reached a tenant table without its tenant predicate."""
    return services.statements.as_dict()
