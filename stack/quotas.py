"""The stack's quotas: the limits policy decides, the counter makes it hold.

Each admission reserves its slot first (one conditional UPDATE, see
enforcement.quota), then asks the limits policy about the slots in use before
it. A denial rolls the reservation back with the rest of the request and is
audited as a 429. A counter that refuses while the policy allows means the
database and the policy's data disagree about the limit: refused (fail
closed) and logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from enforcement.quota import (
    LIMIT_KINDS,
    STANDING,
    Quotas,
    day_start,
    next_day_start,
    seconds_until_next_day,
    tenant_day,
)
from stack.db import Agent, Execution, QuotaCounter, Tenant
from stack.errors import LimitExceeded
from stack.policy import Target
from stack.scope import TenantScope

log = logging.getLogger("tenantguard.stack")

QUOTAS = Quotas(QuotaCounter)
AGENT_LIMIT_RETRY_AFTER = 60  # seconds; an agent slot frees only by a delete


def reserve_agent(ctx: Any, target: Target) -> None:
    """Admit one more agent of the caller's tenant, or answer 429."""

    def seed() -> int:
        return ctx.scope.count(Agent)

    _admit(ctx, target, "agents", STANDING, seed, AGENT_LIMIT_RETRY_AFTER)


def reserve_execution(ctx: Any, target: Target) -> None:
    """Admit one more execution today (the tenant's local day), or answer 429."""
    zone = ctx.tenant_zone()
    day = tenant_day(ctx.now, zone)

    def seed() -> int:
        since, until = day_start(day, zone), next_day_start(ctx.now, zone)
        today = (Execution.created_at >= since, Execution.created_at < until)
        return ctx.scope.count(Execution, *today)

    retry_after = seconds_until_next_day(ctx.now, zone)
    _admit(ctx, target, "executions_per_day", day, seed, retry_after)


def remove_agent(scope: TenantScope, agent: Agent) -> bool:
    """Delete `agent` and give its slot back, in one transaction; False if a
    racing delete removed the row first (then no slot is freed twice)."""
    statement = delete(Agent).where(
        Agent.tenant_id == scope.tenant_id, Agent.id == agent.id
    )
    options = {"synchronize_session": False}
    removed = scope.session.execute(statement.execution_options(**options)).rowcount
    if removed:
        QUOTAS.release(scope.session, scope.tenant_id, "agents", STANDING)
    return bool(removed)


def _admit(ctx, target, kind: str, period: str, seed: Callable[[], int], retry):
    scope = ctx.scope
    current = QUOTAS.ensure(scope.session, scope.tenant_id, kind, period, seed)
    ctx.enforcer.limit(target, kind, current, retry)

    limit = _configured_limit(scope, kind)
    taken = ctx.variant.reserve(scope, QUOTAS, kind, period, limit, seed, current)
    if taken.admitted:
        return
    log.debug(
        "tenant %s: a racing request took the last %s slot", scope.tenant_id, kind
    )
    ctx.enforcer.record("denied", "limit_exceeded", target)
    raise LimitExceeded(None, retry)


def _configured_limit(scope: TenantScope, kind: str) -> int:
    tenant = scope.tenant()
    limits = tenant.limits if tenant is not None else {}
    return int(limits.get(LIMIT_KINDS[kind], 0))


def usage_view(session: Session, tenant: Tenant) -> dict[str, Any]:
    """A tenant's authoritative usage, for the operator: the rows themselves
    (agents; executions per local day) beside the quota counters."""
    scope = TenantScope(session, tenant.id)
    zone = ZoneInfo(tenant.timezone)
    counters = {
        (c.kind, c.period): c.used for c in session.scalars(scope.select(QuotaCounter))
    }
    executions = session.execute(
        select(Execution.id, Execution.created_at).where(
            Execution.tenant_id == tenant.id
        )
    ).all()
    agent_ids = session.scalars(
        select(Agent.id).where(Agent.tenant_id == tenant.id)
    ).all()
    return {
        "tenant": tenant.id,
        "timezone": tenant.timezone,
        "limits": dict(tenant.limits),
        "agents": {
            "count": len(agent_ids),
            "counter": counters.get(("agents", STANDING)),
            "ids": sorted(agent_ids),
        },
        "executions": {
            "days": _per_day(executions, zone, counters),
            "ids": sorted(row.id for row in executions),
        },
    }


def _per_day(executions, zone: ZoneInfo, counters) -> dict[str, dict[str, Any]]:
    days: dict[str, dict[str, Any]] = {}
    for row in executions:
        day = tenant_day(row.created_at, zone)
        days.setdefault(day, {"count": 0, "counter": None})["count"] += 1
    for (kind, period), used in counters.items():
        if kind == "executions_per_day":
            days.setdefault(period, {"count": 0, "counter": None})["counter"] = used
    return dict(sorted(days.items()))
