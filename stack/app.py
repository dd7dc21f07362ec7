"""The app factory: one call, one independent stack (no module-level state)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from enforcement import Embedded, EngineError, OpaServer, PolicyEngine
from enforcement.tenancy import StatementRecorder, Tenancy
from stack.audit import AuditLog
from stack.clock import Clock, utc_now
from stack.context import Services
from stack.db import Tenant, connect, create_schema, guard
from stack.http import BodyLimit, RequestFrame, install_error_handlers
from stack.keys import TenantKeys
from stack.routes import admin, agents, credentials, files, tenant
from stack.settings import Settings
from stack.storage import TenantStorage
from stack.tenants import seed
from stack.trail import AuditTrail
from stack.variants import VARIANTS

log = logging.getLogger("tenantguard.stack")

OPA_STARTUP_ATTEMPTS = 40
OPA_STARTUP_PAUSE = 0.5  # seconds


def create_app(
    settings: Settings, *, engine: PolicyEngine | None = None, clock: Clock = utc_now
) -> FastAPI:
    """A new stack. `engine` replaces the one `settings` names (tests inject
    fakes); `clock` is read once per request."""
    services = build_services(settings, engine, clock)
    app = FastAPI(
        title="tenantguard reference stack",
        version="0.1.0",
        redirect_slashes=False,
        docs_url=None,  # the OpenAPI document stays, for fuzzers; no HTML pages
        redoc_url=None,
        lifespan=_lifespan(services),
    )
    app.state.services = services
    install_error_handlers(app)
    app.add_middleware(
        BodyLimit,
        max_body_bytes=settings.max_body_bytes,
        max_file_bytes=settings.max_file_bytes,
    )
    app.add_middleware(AuditTrail)  # inside RequestFrame: the request ID is set
    app.add_middleware(RequestFrame)
    for module in (admin, agents, credentials, files, tenant):
        app.include_router(module.router)
    return app


def build_services(
    settings: Settings, engine: PolicyEngine | None, clock: Clock
) -> Services:
    database = connect(settings.db_url)
    owner = connect(settings.db_owner_url) if settings.db_owner_url else None
    sessions = create_schema(database, owner)
    if owner is not None:
        owner.dispose()
    statements = StatementRecorder()
    guard(database, sessions, statements)
    closers = [database.dispose]
    if engine is None:
        engine = _policy_engine(settings, _tenant_configs(sessions))
        closers.append(engine.close)
    services = Services(
        settings=settings,
        database=database,
        sessions=sessions,
        engine=engine,
        audit=AuditLog(sessions),
        keys=TenantKeys(settings.kek()),
        files=TenantStorage(settings.storage_dir),
        variant=VARIANTS[settings.variant],
        clock=clock,
        statements=statements,
        closers=closers,
    )
    if settings.tenants_file is not None:
        seed(services, settings.tenants_file, clock())
    return services


def _tenant_configs(sessions: sessionmaker) -> dict[str, dict]:
    with sessions() as session, Tenancy.operator_scope(session, "load tenants"):
        return {
            tenant.id: tenant.config() for tenant in session.scalars(select(Tenant))
        }


def _policy_engine(settings: Settings, configs: dict[str, dict]) -> PolicyEngine:
    """The engine `settings` names, given every known tenant's configuration."""
    if settings.engine == "embedded":
        return Embedded(settings.policy_dir, {"tenants": configs})
    engine = OpaServer(settings.opa_url)
    publish_all(engine, configs)
    return engine


def publish_all(
    engine: PolicyEngine,
    configs: dict[str, dict],
    *,
    attempts: int = OPA_STARTUP_ATTEMPTS,
    pause: float = OPA_STARTUP_PAUSE,
) -> None:
    """Give OPA every known tenant; it may still be starting (docker compose)."""
    pending = dict(configs)
    for _ in range(attempts):
        try:
            while pending:
                tenant_id, config = next(iter(pending.items()))
                engine.put_data(f"tenants/{tenant_id}", config)
                del pending[tenant_id]
            return
        except EngineError as error:
            log.info("OPA is not taking tenant configuration yet: %s", error)
            time.sleep(pause)
    log.warning("OPA has no configuration for %d tenants", len(pending))


def _lifespan(services: Services):
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        services.close()

    return lifespan
