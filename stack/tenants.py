"""Tenants: provisioning, configuration changes, and the tenants file.

A tenant's configuration lives in the database (the `tenants` row) and reaches
the policy engine as `data.tenants[id]`, written with `put_data` in the same
transaction as the change and its audit record: if the engine refuses it the
change is not made (503), and if the commit fails after the engine took it,
the engine is given the previous configuration back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from enforcement import EngineError, PolicyEngine, UsageError
from enforcement import tenant_config as configs
from enforcement.tenancy import Tenancy
from enforcement.tenant_config import TenantConfig
from stack.audit import AuditEvent, append, detail
from stack.context import Services
from stack.db import Tenant
from stack.errors import Conflict, InvalidRequest, NotFound, Unavailable
from stack.keys import lock_tenant

log = logging.getLogger("tenantguard.stack")


def tenant_view(tenant: Tenant) -> dict[str, Any]:
    """The tenant as the operator and the tenant itself see it."""
    return {"id": tenant.id, **tenant.config()}


def parse_new(body: Mapping[str, Any]) -> TenantConfig:
    """A new tenant's configuration from an API body, or 400 naming the fault."""
    settings = {name: value for name, value in body.items() if name != "id"}
    try:
        return TenantConfig.parse(body.get("id"), settings, "body")
    except UsageError as error:
        raise InvalidRequest(str(error)) from None


def provision(
    session: Session,
    services: Services,
    config: TenantConfig,
    now: datetime,
    *,
    request_id: str | None = None,
    reason: str = "operator",
) -> Tenant:
    """Insert a tenant and its first key, publish it, audit it; the caller's
    session is in the tenant's context and the caller commits."""
    tenant = Tenant.from_config(config, now)
    if session.get(Tenant, tenant.id) is not None:
        raise Conflict(f"tenant {tenant.id!r} already exists")
    session.add(tenant)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"tenant {tenant.id!r} already exists") from None
    services.keys.provision(session, tenant.id, now)
    publish(services.engine, tenant.id, tenant.config())
    append(
        session, _admin_event("create", "tenant", tenant.id, request_id, reason), now
    )
    return tenant


def update(
    services: Services,
    tenant_id: str,
    changes: Mapping[str, Any],
    now: datetime,
    *,
    request_id: str | None = None,
) -> Tenant:
    """Apply a partial configuration (settings replace; limits and features
    merge), validated as a file is; publish and audit it if anything changed."""
    published: TenantConfig | None = None
    try:
        with services.audit.transaction() as session:
            Tenancy.enter(session, tenant_id)
            if not lock_tenant(session, tenant_id):
                raise NotFound()
            tenant = session.get(Tenant, tenant_id)
            before = tenant.settings()
            after = _updated(before, changes)
            changed = after.changes_from(before)
            if changed:
                _apply(session, tenant, after, now)
                publish(services.engine, tenant_id, after.as_data())
                published = before
                event = config_event(tenant, changed, request_id)
                append(session, event, now)
        return tenant
    except Unavailable:
        if published is not None:  # the engine took what the database did not
            _publish_quietly(services.engine, tenant_id, published.as_data())
        raise


def _updated(before: TenantConfig, changes: Mapping[str, Any]) -> TenantConfig:
    try:
        return before.updated(changes, "body")
    except UsageError as error:
        raise InvalidRequest(str(error)) from None


def _apply(session: Session, tenant: Tenant, after: TenantConfig, now) -> None:
    tenant.apply(after)
    tenant.config_version += 1
    tenant.updated_at = now
    session.flush()


def config_event(
    tenant: Tenant, changed: dict[str, list[Any]], request_id: str | None
) -> AuditEvent:
    return AuditEvent(
        event="config_change",
        decision="allow",
        reason="operator",
        request_id=request_id,
        actor_user="operator",
        action="update",
        resource_type="config",
        resource_id=tenant.id,
        target_tenant=tenant.id,
        detail=detail(version=tenant.config_version, changes=changed),
    )


def publish(engine: PolicyEngine, tenant_id: str, document: dict[str, Any]) -> None:
    """Give the policies a tenant's configuration, or fail the change (503)."""
    try:
        engine.put_data(f"tenants/{tenant_id}", document)
    except EngineError:
        log.warning(
            "the policy engine did not take tenant %s's configuration", tenant_id
        )
        raise Unavailable("the policy engine did not accept the tenant") from None


def _publish_quietly(engine: PolicyEngine, tenant_id: str, document) -> None:
    try:
        engine.put_data(f"tenants/{tenant_id}", document)
    except EngineError:
        log.error(
            "tenant %s: the policy engine holds a configuration the database "
            "does not; restart the stack to publish the database's",
            tenant_id,
        )


def _admin_event(
    action: str, resource_type: str, tenant_id: str, request_id, reason: str
) -> AuditEvent:
    return AuditEvent(
        event="admin",
        decision="allow",
        reason=reason,
        request_id=request_id,
        actor_user="operator",
        action=action,
        resource_type=resource_type,
        resource_id=tenant_id,
        target_tenant=tenant_id,
    )


def admin_event(action: str, resource_type: str, tenant_id: str, request_id):
    return _admin_event(action, resource_type, tenant_id, request_id, "operator")


def seed(services: Services, path: Path, now: datetime) -> list[str]:
    """Create the tenants of a tenants file that the database does not hold;
    the database wins for the others (a difference is logged)."""
    created = []
    for config in configs.load(path):
        with services.sessions() as session:
            Tenancy.enter(session, config.id)
            existing = session.get(Tenant, config.id)
            if existing is not None:
                if existing.settings() != config:
                    log.warning("tenant %s: the database wins over %s", config.id, path)
                continue
            try:
                provision(session, services, config, now, reason="tenants_file")
                session.commit()
            except (Conflict, IntegrityError):  # another worker seeded it first
                continue
        created.append(config.id)
    log.info("tenants file %s: %d tenants created", path, len(created))
    return created
