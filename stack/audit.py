"""The stack's audit log: the hash chain of `enforcement.audit`, in its database.

Writers take the chain's head row first (a row lock on PostgreSQL, the write
lock on SQLite), so two writers never extend the same link, and the unique
`seq` and `prev_hash` columns refuse a fork outright. A record that cannot be
written fails the request: 503, never a silent success.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from enforcement import audit as chain
from enforcement.audit import FIELDS, GENESIS_HASH, record_hash
from stack.clock import iso
from stack.db import AuditRecord
from stack.errors import Unavailable

__all__ = ["FIELDS", "GENESIS_HASH", "AuditEvent", "AuditLog", "record_hash"]

log = logging.getLogger("tenantguard.stack")

# Kept for the operator: a tenant reading its own records sees neither.
TENANT_HIDDEN = frozenset({"target_tenant", "detail"})
DETAIL_LIMIT = 2000  # characters


@dataclass(frozen=True)
class AuditEvent:
    """What happened, before it is given its place in the chain."""

    event: str
    decision: str
    reason: str
    request_id: str | None = None
    actor_tenant: str | None = None
    actor_user: str | None = None
    action: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    target_tenant: str | None = None
    detail: str | None = None


@dataclass
class RequestTrail:
    """What one request has written to the audit log, and the object IDs it
    has accounted for (audited, or resolved in the caller's own tenant)."""

    records: int = 0
    ids: set[str] = field(default_factory=set)

    def note(self, event: AuditEvent) -> None:
        self.records += 1
        if event.resource_id:
            self.ids.add(event.resource_id.lower())


def detail(**values: Any) -> str:
    """A record's `detail`: compact JSON, bounded, never holding a secret."""
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return text[:DETAIL_LIMIT]


class AuditLog:
    def __init__(self, sessions: sessionmaker) -> None:
        self._sessions = sessions

    def record(self, event: AuditEvent, now: datetime) -> None:
        """Append `event` in a transaction of its own; 503 if that fails."""
        self.record_all([event], now)

    def record_all(self, events: Iterable[AuditEvent], now: datetime) -> None:
        with self.transaction() as session:
            for event in events:
                append(session, event, now)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits together with the records it appends,
        or not at all: any database failure is a 503 (fail closed)."""
        try:
            with self._sessions() as session:
                yield session
                session.commit()
        except SQLAlchemyError:
            log.exception("an audited transaction could not be committed")
            raise Unavailable() from None


def append(session: Session, event: AuditEvent, now: datetime) -> dict[str, Any]:
    """Append `event` inside the caller's transaction; the caller commits."""
    return chain.append(session, _storable(asdict(event)), iso(now))


def _storable(fields: dict[str, Any]) -> dict[str, Any]:
    """PostgreSQL text cannot hold NUL, and a caller's path or name may: the
    record keeps it visibly as `\\x00` instead of failing the request."""
    return {
        name: value.replace("\x00", "\\x00") if isinstance(value, str) else value
        for name, value in fields.items()
    }


def verify_chain(
    records: Iterable[Mapping[str, Any]], prev_hash: str = GENESIS_HASH
) -> int | None:
    """The `seq` of the first record that breaks the chain, or None if none does
    (`enforcement.audit.verify` names every problem and its kind)."""
    result = chain.verify(records, prev_hash=prev_hash)
    return result.problems[0].seq if result.problems else None


def operator_query(
    tenant: str | None, request_id: str | None, after: int | None
) -> Select:
    """Records for the operator: `tenant` matches the actor or the target."""
    statement = select(AuditRecord).order_by(AuditRecord.seq)
    if tenant is not None:
        statement = statement.where(
            (AuditRecord.actor_tenant == tenant) | (AuditRecord.target_tenant == tenant)
        )
    return statement.where(*tenant_filters(request_id, after))


def tenant_filters(request_id: str | None, after: int | None) -> list[Any]:
    criteria = []
    if request_id is not None:
        criteria.append(AuditRecord.request_id == request_id)
    if after is not None:
        criteria.append(AuditRecord.seq > after)
    return criteria


def as_dict(
    row: AuditRecord, *, hidden: frozenset[str] = frozenset()
) -> dict[str, Any]:
    return {name: getattr(row, name) for name in FIELDS if name not in hidden}
