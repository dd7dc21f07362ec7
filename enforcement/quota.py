"""Per-tenant quotas whose reservation is atomic in the database.

A quota is a counter row per tenant, kind and period: `agents` has one
standing period (""), `executions_per_day` one per local day of the tenant
("2026-12-04", the date in the tenant's time zone). A slot is reserved by one
conditional UPDATE,

    UPDATE quota_counters SET used = used + 1
     WHERE tenant_id = :t AND kind = :k AND period = :p AND used < :limit

which PostgreSQL re-checks on the newest row version after waiting for a
concurrent writer, and which SQLite runs under its single write lock: two
requests never take the same last slot, whichever API process they reach.
The counter row is created on first use (insert-if-absent), seeded with the
work already in the tables, so a stack that kept its rows before the counters
existed starts from the truth.

The rule for a slot: it is consumed when the work is admitted, and comes back
only when the request's transaction does not commit (the work then never
exists: a policy denial, a crash, a failed insert). An execution that ran and
failed keeps its slot; a deleted agent frees its slot (`release`), a deleted
execution does not.

    quotas = Quotas(QuotaCounter)              # the model, see stack.db
    day = tenant_day(now, ZoneInfo("Europe/Berlin"))
    taken = quotas.reserve(session, "acme", "executions_per_day", day, 100, seed)
    taken.admitted, taken.current              # True, slots used before this one
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from enforcement.errors import UsageError

STANDING = ""  # the period of a quota that never resets (max_agents)
LIMIT_KINDS = {"agents": "max_agents", "executions_per_day": "max_executions_per_day"}
_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def tenant_day(now: datetime, zone: tzinfo) -> str:
    """The tenant's local date at `now` (an aware time): its daily period."""
    if now.tzinfo is None:
        raise UsageError(f"now must be an aware time, got {now!r}; use tz=UTC")
    return now.astimezone(zone).date().isoformat()


def day_start(day: str, zone: tzinfo) -> datetime:
    """The first instant (UTC) of the local `day` in `zone`.

    A midnight that a daylight-saving gap skips resolves, with zoneinfo's
    fold=0, to the instant the gap ends: the day's real first instant.
    """
    midnight = datetime.combine(date.fromisoformat(day), time(0), tzinfo=zone)
    return midnight.astimezone(UTC)


def next_day_start(now: datetime, zone: tzinfo) -> datetime:
    """The first instant (UTC) of the tenant's next local day after `now`."""
    following = date.fromisoformat(tenant_day(now, zone)) + timedelta(days=1)
    return day_start(following.isoformat(), zone)


def seconds_until_next_day(now: datetime, zone: tzinfo) -> int:
    """Retry-After for a daily limit: whole seconds to the next local midnight
    (23 or 25 hours long on a daylight-saving day), at least 1."""
    remaining = (next_day_start(now, zone) - now).total_seconds()
    return max(1, math.ceil(remaining))


@dataclass(frozen=True)
class Reservation:
    """The outcome of one reservation: admitted or not, and `current`, the
    slots in use before it (what the limits policy is asked about)."""

    kind: str
    period: str
    admitted: bool
    current: int


@dataclass(frozen=True)
class Quotas:
    """Reservations on `counter`, a tenant model with `kind`, `period` and
    `used` columns (its table must be a tenant table of the guard)."""

    counter: type

    def reserve(
        self,
        session: Session,
        tenant_id: str,
        kind: str,
        period: str,
        limit: int,
        seed: Callable[[], int],
    ) -> Reservation:
        """Take one slot if `used < limit`, atomically; `seed()` counts the
        work already there when the counter row does not exist yet."""
        used = self._increment(session, tenant_id, kind, period, limit)
        if used is None:
            # No row, or a full one. A row another request created since the
            # UPDATE ran is only seen by a second UPDATE, so always retry once.
            self.ensure(session, tenant_id, kind, period, seed)
            used = self._increment(session, tenant_id, kind, period, limit)
        if used is not None:
            return Reservation(kind, period, True, used - 1)
        current = self.used(session, tenant_id, kind, period) or 0
        return Reservation(kind, period, False, current)

    def ensure(
        self,
        session: Session,
        tenant_id: str,
        kind: str,
        period: str,
        seed: Callable[[], int],
    ) -> int:
        """The counter's value, its row created (from `seed()`) if absent."""
        used = self.used(session, tenant_id, kind, period)
        if used is None:
            self._create(session, tenant_id, kind, period, seed())
            used = self.used(session, tenant_id, kind, period)
        return used

    def release(self, session: Session, tenant_id: str, kind: str, period: str):
        """Give one slot back (a deleted agent); never below zero."""
        statement = self._where(update(self.counter), tenant_id, kind, period)
        statement = statement.where(self.counter.used > 0)
        statement = statement.values(used=self.counter.used - 1)
        session.execute(statement.execution_options(synchronize_session=False))

    def used(self, session: Session, tenant_id: str, kind: str, period: str):
        """The counter's value, or None when it has no row yet."""
        statement = self._where(select(self.counter.used), tenant_id, kind, period)
        return session.scalar(statement)

    def _increment(self, session, tenant_id, kind, period, limit) -> int | None:
        statement = self._where(update(self.counter), tenant_id, kind, period)
        statement = statement.where(self.counter.used < limit)
        statement = statement.values(used=self.counter.used + 1)
        statement = statement.returning(self.counter.used)
        options = {"synchronize_session": False}
        return session.execute(statement.execution_options(**options)).scalar()

    def _create(self, session, tenant_id, kind, period, used: int) -> None:
        insert = _insert_for(session)
        row = {"tenant_id": tenant_id, "kind": kind, "period": period, "used": used}
        session.execute(insert(self.counter).values(**row).on_conflict_do_nothing())

    def _where(self, statement: Any, tenant_id: str, kind: str, period: str) -> Any:
        counter = self.counter
        return statement.where(
            counter.tenant_id == tenant_id,
            counter.kind == kind,
            counter.period == period,
        )


def _insert_for(session: Session) -> Callable[..., Any]:
    dialect = session.get_bind().dialect.name
    if dialect not in _INSERTS:
        raise UsageError(
            f"quotas need SQLite or PostgreSQL (an atomic insert-if-absent), "
            f"got {dialect!r}"
        )
    return _INSERTS[dialect]
