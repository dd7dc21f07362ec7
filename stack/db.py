"""The stack's tables (SQLAlchemy 2.x ORM) and its database connection.

Every table holding a tenant's data carries `tenant_id`; queries about tenant
data go through `stack.scope.TenantScope`, never straight to these models.
SQLite is the default (WAL and a busy timeout, so parallel requests wait for
the write lock instead of failing); PostgreSQL works by URL
(`postgresql+psycopg://...`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    create_engine,
    event,
    insert,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    declared_attr,
    mapped_column,
    sessionmaker,
)
from sqlalchemy.types import TypeDecorator

from enforcement.audit import GENESIS_HASH
from enforcement.tenancy import (
    StatementRecorder,
    Tenancy,
    TenantOwnedMixin,
    rls_statements,
)
from enforcement.tenant_config import TenantConfig

log = logging.getLogger("tenantguard.stack")

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Enough connections for the server's worker threads, each of which may hold
# a request's session and briefly an audit write.
POOL = {"pool_size": 20, "max_overflow": 20}


class UtcDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC on every database, read back as an aware UTC time."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> Any:
        return value if value is None else value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> Any:
        return value if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class Tenant(Base):
    """A tenant and its configuration (see enforcement.tenant_config)."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    plan: Mapped[str] = mapped_column(String(64))
    limits: Mapped[dict[str, Any]] = mapped_column(JSON)
    features: Mapped[dict[str, Any]] = mapped_column(JSON)
    storage_quota_bytes: Mapped[int] = mapped_column(BigInteger)
    key_rotation_days: Mapped[int] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64))
    config_version: Mapped[int] = mapped_column(Integer, default=1)
    # Bumped by TenantScope.lock_quota: the write takes the tenant row's lock
    # (PostgreSQL) or the database's write lock (SQLite) for the transaction.
    quota_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    @classmethod
    def from_config(cls, config: TenantConfig, now: datetime) -> Tenant:
        tenant = cls(
            id=config.id,
            config_version=1,
            quota_epoch=0,
            created_at=now,
            updated_at=now,
        )
        tenant.apply(config)
        return tenant

    def apply(self, config: TenantConfig) -> None:
        self.plan = config.plan
        self.limits = dict(config.limits)
        self.features = dict(config.features)
        self.storage_quota_bytes = config.storage_quota_bytes
        self.key_rotation_days = config.key_rotation_days
        self.timezone = config.timezone

    def settings(self) -> TenantConfig:
        return TenantConfig(
            id=self.id,
            plan=self.plan,
            limits=dict(self.limits),
            features=dict(self.features),
            storage_quota_bytes=self.storage_quota_bytes,
            key_rotation_days=self.key_rotation_days,
            timezone=self.timezone,
        )

    def config(self) -> dict[str, Any]:
        """The document the policies read as `data.tenants[id]`."""
        return self.settings().as_data()


class TenantOwned(TenantOwnedMixin):
    """A row that belongs to exactly one tenant.

    `tenant_id` is part of the primary key, so even the ORM's own UPDATE and
    DELETE by key carry the tenant predicate the statement guard requires.
    """

    @declared_attr
    def tenant_id(cls) -> Mapped[str]:
        return mapped_column(
            String(63), ForeignKey("tenants.id"), primary_key=True, index=True
        )


# Every tenant table and the column naming its tenant: what the statement
# guard reads for and what PostgreSQL's row-level security policies compare.
TENANT_TABLES = {
    "tenants": "id",
    "tenant_keys": "tenant_id",
    "agents": "tenant_id",
    "executions": "tenant_id",
    "credentials": "tenant_id",
    "files": "tenant_id",
    "quota_counters": "tenant_id",
}


class TenantKey(TenantOwned, Base):
    """One data key of a tenant, wrapped by the key-encryption key. Exactly one
    per tenant is the primary (it seals); the others only open."""

    __tablename__ = "tenant_keys"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    kek: Mapped[str] = mapped_column(String(300))  # which KEK wrapped it
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    def __repr__(self) -> str:
        return f"TenantKey({self.tenant_id!r}, {self.key_id!r}, {self.state!r})"


class Agent(TenantOwned, Base):
    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Execution(TenantOwned, Base):
    """A run of an agent. Kept when its agent is deleted: it used up quota."""

    __tablename__ = "executions"
    __table_args__ = (Index("ix_executions_tenant_day", "tenant_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16))
    input: Mapped[str] = mapped_column(Text)
    output: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class QuotaCounter(TenantOwned, Base):
    """Slots of one quota a tenant has used in one period (see enforcement.quota):
    `agents` has the standing period "", `executions_per_day` the local date."""

    __tablename__ = "quota_counters"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    used: Mapped[int] = mapped_column(BigInteger)


class Credential(TenantOwned, Base):
    """A stored secret: only its ciphertext, sealed under the tenant's key."""

    __tablename__ = "credentials"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    key_id: Mapped[str] = mapped_column(String(64))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    fingerprint: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    def __repr__(self) -> str:
        return f"Credential({self.id!r}, tenant_id={self.tenant_id!r})"


class StoredFile(TenantOwned, Base):
    """A file's metadata; its bytes live under the tenant's storage root."""

    __tablename__ = "files"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AuditRecord(Base):
    """One link of the append-only, hash-chained audit log (operator data)."""

    __tablename__ = "audit_records"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    time: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[str | None] = mapped_column(Text, index=True)
    actor_tenant: Mapped[str | None] = mapped_column(String(63), index=True)
    actor_user: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str | None] = mapped_column(String(32))
    resource_type: Mapped[str | None] = mapped_column(String(32))
    resource_id: Mapped[str | None] = mapped_column(Text)
    target_tenant: Mapped[str | None] = mapped_column(Text, index=True)
    decision: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The single row naming the chain's last link; writers lock it first."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


def connect(url: str) -> Engine:
    """An engine for `url`, with SQLite tuned for parallel requests."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **POOL)

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 30}, **POOL
    )
    event.listen(engine, "connect", _tune_sqlite)
    return engine


def _tune_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_schema(engine: Engine, owner: Engine | None = None) -> sessionmaker:
    """Create missing tables and the audit chain's head; return a session factory.

    `owner`, when given, is a connection as the role that owns the tables
    (PostgreSQL): it creates them and their row-level security, and grants
    the application role (`engine`'s user) only row access.
    """
    owner = owner or engine
    Base.metadata.create_all(owner)
    if owner.dialect.name == "postgresql":
        _secure_postgres(owner, engine.url.username)
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions() as session:
        if session.scalar(select(AuditHead.id)) is None:
            try:
                session.execute(
                    insert(AuditHead).values(id=1, seq=0, hash=GENESIS_HASH)
                )
                session.commit()
            except IntegrityError:  # another process created it first
                session.rollback()
    return sessions


def _secure_postgres(owner: Engine, app_user: str | None) -> None:
    with owner.begin() as connection:
        # Serialize concurrent starts (several API workers) on one lock.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7415)")
        if _is_secured(connection, app_user or owner.url.username):
            # A worker (re)starting beside live requests: its DDL would take
            # table locks against them (PostgreSQL answered with deadlocks).
            return
        for statement in rls_statements(TENANT_TABLES):
            connection.exec_driver_sql(statement)
        if app_user and app_user != owner.url.username:
            connection.exec_driver_sql(
                f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{app_user}"'
            )


def _is_secured(connection: Any, app_user: str | None) -> bool:
    """Row-level security forced on every tenant table, both policies on each,
    and every table granted to the application role: nothing left to do."""
    tables = {"tables": list(TENANT_TABLES)}
    forced = connection.exec_driver_sql(
        "SELECT count(*) FROM pg_class WHERE relname = ANY(%(tables)s) "
        "AND relkind = 'r' AND relrowsecurity AND relforcerowsecurity",
        tables,
    ).scalar()
    policies = connection.exec_driver_sql(
        "SELECT count(*) FROM pg_policies WHERE tablename = ANY(%(tables)s) "
        "AND policyname IN ('tenant_rows', 'operator_reads')",
        tables,
    ).scalar()
    ungranted = connection.exec_driver_sql(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND NOT "
        "has_table_privilege(%(user)s, format('%%I.%%I', schemaname, tablename), 'INSERT')",
        {"user": app_user},
    ).scalar()
    return forced == len(TENANT_TABLES) == policies / 2 and ungranted == 0


def guard(
    engine: Engine, sessions: sessionmaker, recorder: StatementRecorder | None = None
) -> Tenancy:
    """Keep every statement of `sessions` inside one tenant (see enforcement.tenancy)."""
    tenancy = Tenancy(
        TENANT_TABLES,
        model_base=TenantOwned,
        on_operator=_log_operator,
        recorder=recorder,
    )
    tenancy.install(engine, sessions)
    return tenancy


def _log_operator(reason: str, statement: str) -> None:
    log.info("operator scope (%s): %s", reason, " ".join(statement.split())[:200])
