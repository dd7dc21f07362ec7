"""The one place where queries about tenant data are written.

A request reads and writes tenant rows only through a `TenantScope`, which adds
`tenant_id == <the caller's tenant>` to every statement. The only query that
looks across tenants is `owning_tenant`: for an object ID it returns the owning
tenant and nothing else, so a denial can be audited as a cross-tenant attempt.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from enforcement.tenancy import Tenancy
from stack.db import AuditRecord, Tenant, TenantOwned

Row = TypeVar("Row", bound=TenantOwned)


class TenantScope:
    """A session seen through one tenant: every statement filtered by it."""

    def __init__(
        self, session: Session, tenant_id: str, sessions: sessionmaker | None = None
    ) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.sessions = sessions  # for the vulnerable variants' escape hatch

    def __repr__(self) -> str:
        return f"TenantScope({self.tenant_id!r})"

    def select(self, model: type[Row], *criteria: ColumnElement[bool]) -> Select:
        return select(model).where(model.tenant_id == self.tenant_id, *criteria)

    def one(self, model: type[Row], *criteria: ColumnElement[bool]) -> Row | None:
        return self.session.scalars(self.select(model, *criteria)).one_or_none()

    def get(self, model: type[Row], object_id: str) -> Row | None:
        return self.one(model, model.id == object_id)

    def count(self, model: type[Row], *criteria: ColumnElement[bool]) -> int:
        statement = select(func.count()).select_from(model)
        statement = statement.where(model.tenant_id == self.tenant_id, *criteria)
        return self.session.scalar(statement) or 0

    def add(self, row: Row) -> Row:
        row.tenant_id = self.tenant_id
        self.session.add(row)
        return row

    def delete(self, row: Row) -> None:
        if row.tenant_id != self.tenant_id:
            raise ValueError(f"{row!r} is not in {self!r}")
        self.session.delete(row)

    def tenant(self) -> Tenant | None:
        return self.session.get(Tenant, self.tenant_id)

    def lock_quota(self) -> None:
        """Serialize quota checks of this tenant until the transaction ends.

        Counting and inserting must be one atomic step, or a burst of parallel
        requests overruns the limit. A write to the tenant's row is the lock
        both databases understand: a row lock on PostgreSQL, the write lock on
        SQLite. It must be the transaction's first write.
        """
        statement = update(Tenant).where(Tenant.id == self.tenant_id)
        self.session.execute(statement.values(quota_epoch=Tenant.quota_epoch + 1))

    def audit_records(self, *criteria: ColumnElement[bool]) -> Select:
        """Audit records this tenant caused (never those aimed at it by others)."""
        statement = select(AuditRecord).where(
            AuditRecord.actor_tenant == self.tenant_id
        )
        return statement.where(*criteria).order_by(AuditRecord.seq)


def owning_tenant(
    sessions: sessionmaker, model: type[Row], object_id: str
) -> str | None:
    """The tenant owning `object_id` in `model`, or None: the one cross-tenant
    query, run in an operator scope of its own (read-only under PostgreSQL's
    row-level security) so no tenant session ever looks outside its tenant."""
    with sessions() as session, Tenancy.operator_scope(session, "owner lookup"):
        return session.scalar(select(model.tenant_id).where(model.id == object_id))


def unscoped_get(
    sessions: sessionmaker, model: type[Row], object_id: str
) -> Row | None:
    """A row by ID from any tenant. Only the vulnerable variants call this: it
    is the operator escape hatch used where it must not be."""
    with sessions() as session, Tenancy.operator_scope(session, "unscoped read"):
        row = session.scalar(select(model).where(model.id == object_id))
        if row is not None:
            session.expunge(row)  # keep its loaded state past the scope's rollback
        return row


def page(
    session: Session, statement: Select, limit: int, offset: int
) -> tuple[list[Any], int]:
    """One page of `statement`'s rows and the number of all of them."""
    total = session.scalar(select(func.count()).select_from(statement.subquery()))
    rows = session.scalars(statement.limit(limit).offset(offset)).all()
    return list(rows), total or 0
