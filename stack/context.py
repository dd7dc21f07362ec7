"""What a request works with: the app's services and the caller's context.

`authenticate` is the first step of every tenant request: bearer token to
verified principal, with token failures and tenant-spoofing attempts written
to the audit log. `tenant_context` then opens a tenant-scoped session and the
request's `Enforcer`; `operator_services` guards the admin surface.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import jwt
from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from enforcement import PolicyEngine
from enforcement.tenancy import StatementRecorder, Tenancy
from stack.audit import AuditEvent, AuditLog, RequestTrail
from stack.auth import (
    Principal,
    bearer_token,
    claimed_tenants,
    principal_from_claims,
    rejection_cause,
    unverified_tenant,
)
from stack.clock import Clock
from stack.db import Tenant
from stack.errors import NotFound, Unauthenticated
from stack.keys import TenantKeys
from stack.policy import Enforcer, Target
from stack.scope import TenantScope, owning_tenant
from stack.settings import Settings
from stack.storage import TenantStorage
from stack.variants import Lookup, Variant, own

log = logging.getLogger("tenantguard.stack")

CLAIM_LIMIT = 300  # characters of a spoofed tenant name kept in the audit log


@dataclass
class Services:
    """Everything one app instance owns; built by `stack.app.create_app`."""

    settings: Settings
    database: Engine
    sessions: sessionmaker
    engine: PolicyEngine
    audit: AuditLog
    keys: TenantKeys
    files: TenantStorage
    variant: Variant
    clock: Clock
    statements: StatementRecorder = field(default_factory=StatementRecorder)
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for close in reversed(self.closers):
            close()


def services_of(request: Request) -> Services:
    return request.app.state.services


def request_id_of(request: Request) -> str:
    return request.scope.setdefault("state", {}).setdefault("request_id", "")


def trail_of(request: Request) -> RequestTrail:
    """What the request has audited so far (see stack.trail)."""
    state = request.scope.setdefault("state", {})
    return state.setdefault("trail", RequestTrail())


def request_now(request: Request) -> datetime:
    """The request's one reading of the clock, taken on first use."""
    state = request.scope.setdefault("state", {})
    if "now" not in state:
        state["now"] = services_of(request).clock()
    return state["now"]


def authenticate(request: Request) -> Principal:
    """The caller's verified principal (cached for the request), or 401."""
    state = request.scope.setdefault("state", {})
    if "principal" in state:
        return state["principal"]

    services = services_of(request)
    try:
        principal = _verified_principal(request, services)
    except Unauthenticated as error:
        _audit_rejected_token(request, error)
        raise
    audit_spoofing(
        request, principal, _claims_outside_token(request), "tenant_claim_mismatch"
    )

    state["principal"] = services.variant.effective_principal(
        principal, request.headers
    )
    return state["principal"]


def verified_principal(request: Request) -> Principal | None:
    """The caller's principal if its token verifies, else None; audits nothing
    (for the trail, on routes that never authenticated the caller)."""
    state = request.scope.setdefault("state", {})
    if "principal" in state:
        return state["principal"]
    try:
        return _verified_principal(request, services_of(request))
    except Unauthenticated:
        return None


def _verified_principal(request: Request, services: Services) -> Principal:
    authorizations = request.headers.getlist("authorization")
    if len(authorizations) > 1:
        raise Unauthenticated("token_malformed")
    token = bearer_token(authorizations[0] if authorizations else None)
    try:
        claims = services.variant.decode_claims(token, services.settings.jwt_secret)
    except jwt.PyJWTError as error:
        raise Unauthenticated(
            rejection_cause(error), unverified_tenant(token)
        ) from None
    except Exception:  # hostile input: PyJWT promises no exception type for it
        raise Unauthenticated("token_malformed", None) from None
    return principal_from_claims(claims, request_now(request))


def _claims_outside_token(request: Request) -> list[str]:
    return claimed_tenants(request.headers.raw, request.query_params.multi_items())


# Token failures that are not an attempt to pass for someone else.
PLAIN_DENIALS = frozenset({"token_missing", "tenant_unknown"})


def _audit_rejected_token(request: Request, error: Unauthenticated) -> None:
    event = "denied" if error.cause in PLAIN_DENIALS else "tenant_spoofing"
    record(
        request,
        AuditEvent(
            event=event,
            decision="deny",
            reason=error.cause,
            target_tenant=error.claimed_tenant,
            **_request_target(request),
        ),
    )


def audit_spoofing(
    request: Request, principal: Principal, claims: Iterable[str], reason: str
) -> None:
    """Audit each tenant a caller names that is not the token's; it is ignored."""
    for claimed in sorted({c for c in claims if c != principal.tenant}):
        event = AuditEvent(
            event="tenant_spoofing",
            decision="deny",
            reason=reason,
            actor_tenant=principal.tenant,
            actor_user=principal.user,
            target_tenant=claimed[:CLAIM_LIMIT],
            **_request_target(request),
        )
        record(request, event)


def _request_target(request: Request) -> dict[str, Any]:
    return {
        "request_id": request_id_of(request),
        "action": request.method.lower(),
        "resource_id": request.url.path[:CLAIM_LIMIT],
    }


def record(request: Request, event: AuditEvent) -> None:
    services_of(request).audit.record(event, request_now(request))
    trail_of(request).note(event)


@dataclass
class TenantContext:
    """One authenticated tenant request: who, which rows, which questions."""

    principal: Principal
    scope: TenantScope
    enforcer: Enforcer
    services: Services
    now: datetime
    query: dict[str, str]

    @property
    def session(self) -> Session:
        return self.scope.session

    @property
    def variant(self) -> Variant:
        return self.services.variant

    def tenant_zone(self) -> ZoneInfo:
        """The caller's tenant's time zone: where its day starts and ends."""
        tenant = self.scope.tenant()
        return ZoneInfo(tenant.timezone if tenant is not None else "UTC")

    def resolve(
        self,
        model: type,
        target: Target,
        lookup: Lookup | None = None,
    ) -> Any:
        """The row `target` names, once the policy allows the action on it."""
        found = (lookup or own(model))(self.scope, target.resource_id)
        if found is None:
            owner = owning_tenant(self.services.sessions, model, target.resource_id)
            self.enforcer.absent(target, owner)
        self.enforcer.access(target, found.tenant)
        self.enforcer.accounted(target.resource_id)
        return found.row


def tenant_context(request: Request) -> Iterator[TenantContext]:
    """FastAPI dependency: the caller's context, its session closed afterwards."""
    principal = authenticate(request)
    services = services_of(request)
    now = request_now(request)
    with services.sessions() as session:
        Tenancy.enter(session, principal.tenant)
        _check_tenant_exists(request, session, principal)
        # Hand the connection back to the pool: FastAPI runs this dependency
        # and the route in different threads, and connections held while
        # requests wait for a thread starved the pool under load (500s).
        session.commit()
        enforcer = Enforcer(
            engine=services.engine,
            audit=services.audit,
            principal=principal,
            request_id=request_id_of(request),
            now=now,
            cross_tenant_error=services.variant.cross_tenant_error,
            rollback=session.rollback,
            trail=trail_of(request),
        )
        scope = TenantScope(session, principal.tenant, services.sessions)
        yield TenantContext(
            principal, scope, enforcer, services, now, dict(request.query_params)
        )


def _check_tenant_exists(
    request: Request, session: Session, principal: Principal
) -> None:
    """A well-signed token of a tenant the stack does not hold is still a 401."""
    if session.get(Tenant, principal.tenant) is not None:
        return
    error = Unauthenticated("tenant_unknown", principal.tenant)
    _audit_rejected_token(request, error)
    raise error


def operator_services(request: Request) -> Services:
    """FastAPI dependency: the services, if the operator key is right; else 404."""
    if is_operator(request):
        return services_of(request)
    _reject_operator(request)


def is_operator(request: Request) -> bool:
    supplied = request.headers.get("x-operator-key", "").encode()
    expected = services_of(request).settings.operator_key.encode()
    return hmac.compare_digest(supplied, expected)


def _reject_operator(request: Request) -> NoReturn:
    event = AuditEvent(
        event="denied",
        decision="deny",
        reason="operator_key_invalid",
        **_request_target(request),
    )
    record(request, event)
    raise NotFound()
