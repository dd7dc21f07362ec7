"""The append-only audit log, each record chained to the one before by a hash.

`hash` = SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8) of the
record's other fields, `prev_hash` included; the first record's `prev_hash` is
64 zeros. Writers take the chain's head row first (a row lock on PostgreSQL,
the write lock on SQLite), so two writers never extend the same link, and the
unique `seq` and `prev_hash` columns refuse a fork outright. A record that
cannot be written fails the request: 503, never a silent success.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from stack.clock import iso
from stack.db import GENESIS_HASH, AuditHead, AuditRecord
from stack.errors import Unavailable

log = logging.getLogger("tenantguard.stack")

FIELDS = (
    "seq",
    "time",
    "request_id",
    "actor_tenant",
    "actor_user",
    "action",
    "resource_type",
    "resource_id",
    "target_tenant",
    "decision",
    "reason",
    "event",
    "prev_hash",
    "hash",
)
TENANT_HIDDEN = frozenset({"target_tenant"})


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


class AuditLog:
    def __init__(self, sessions: sessionmaker) -> None:
        self._sessions = sessions

    def record(self, event: AuditEvent, now: datetime) -> None:
        """Append `event` in a transaction of its own; 503 if that fails."""
        with self.transaction() as session:
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
    head = update(AuditHead).where(AuditHead.id == 1)
    session.execute(head.values(seq=AuditHead.seq + 1))
    seq, prev_hash = session.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)
    ).one()

    record = {**asdict(event), "seq": seq, "time": iso(now), "prev_hash": prev_hash}
    record["hash"] = record_hash(record)
    session.add(AuditRecord(**record))
    session.execute(head.values(hash=record["hash"]))
    return record


def record_hash(record: Mapping[str, Any]) -> str:
    fields = {name: value for name, value in record.items() if name != "hash"}
    canonical = json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def verify_chain(
    records: Iterable[Mapping[str, Any]], prev_hash: str = GENESIS_HASH
) -> int | None:
    """The `seq` of the first record that breaks the chain, or None if none does."""
    for record in records:
        if record["prev_hash"] != prev_hash or record_hash(record) != record["hash"]:
            return record["seq"]
        prev_hash = record["hash"]
    return None


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
