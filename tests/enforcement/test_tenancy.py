"""Tenant-scoped sessions, the statement guard and row-level security.

The same small schema runs on SQLite and on a real, throwaway PostgreSQL
cluster. Every "allowed" case has its "refused" twin.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    mapped_column,
    relationship,
    sessionmaker,
)

from enforcement.tenancy import (
    StatementRecorder,
    Tenancy,
    TenantIsolationError,
    TenantOwnedMixin,
    rls_statements,
)

TABLES = {"agents": "tenant_id", "runs": "tenant_id"}
APP_ROLE = "tg_app"


class Base(DeclarativeBase):
    pass


class Agent(TenantOwnedMixin, Base):
    __tablename__ = "agents"
    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    runs: Mapped[list[Run]] = relationship(
        primaryjoin="and_(Agent.id == foreign(Run.agent_id))",
        viewonly=True,
        lazy="select",
    )


class Run(TenantOwnedMixin, Base):
    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    agent_id: Mapped[str] = mapped_column(sa.String(32))


class Setup:
    """An engine with the schema, two tenants' rows, and the tenancy hooks."""

    def __init__(self, url: str, *, audited: list | None = None):
        self.engine = sa.create_engine(url, pool_size=1, max_overflow=0)
        Base.metadata.create_all(self.engine)
        self.operator_statements = audited if audited is not None else []
        self.recorder = StatementRecorder()
        self.tenancy = Tenancy(
            TABLES,
            on_operator=lambda reason, sql: self.operator_statements.append(reason),
            recorder=self.recorder,
        )
        self.sessions = sessionmaker(self.engine)
        self._seed()
        self.tenancy.install(self.engine, self.sessions)

    def _seed(self):
        with self.sessions() as session:
            for tenant in ("acme", "globex"):
                session.add(
                    Agent(tenant_id=tenant, id=f"ag-{tenant}", name=f"{tenant} agent")
                )
                session.add(
                    Agent(tenant_id=tenant, id="ag-shared-id", name=f"{tenant} twin")
                )
                session.add(
                    Run(tenant_id=tenant, id=f"run-{tenant}", agent_id="ag-shared-id")
                )
            session.commit()

    def session(self, tenant: str):
        session = self.sessions()
        self.tenancy.enter(session, tenant)
        return session


@pytest.fixture
def sqlite(tmp_path):
    setup = Setup(f"sqlite:///{tmp_path / 'tenancy.db'}")
    yield setup
    setup.engine.dispose()


def names(rows):
    return sorted(row.name for row in rows)


def test_select_sees_only_own_rows(sqlite):
    with sqlite.session("acme") as session:
        assert names(session.scalars(sa.select(Agent))) == ["acme agent", "acme twin"]


def test_get_of_a_foreign_primary_key_is_refused(sqlite):
    with sqlite.session("acme") as session:
        assert session.get(Agent, ("ag-acme", "acme")).name == "acme agent"
        with pytest.raises(TenantIsolationError, match="lacks a tenant predicate"):
            session.get(Agent, ("ag-globex", "globex"))


def test_join_and_relationship_load_stay_in_the_tenant(sqlite):
    with sqlite.session("acme") as session:
        joined = session.execute(
            sa.select(Agent.name, Run.id).join(Run, Run.agent_id == Agent.id)
        ).all()
        assert joined == [("acme twin", "run-acme")]
        twin = session.scalars(sa.select(Agent).where(Agent.id == "ag-shared-id")).one()
        assert [run.id for run in twin.runs] == ["run-acme"]


def test_bulk_update_and_delete_touch_only_own_rows(sqlite):
    with sqlite.session("acme") as session:
        session.execute(sa.update(Agent).values(name="renamed"))
        session.execute(sa.delete(Run))
        session.commit()
    with sqlite.session("globex") as session:
        assert names(session.scalars(sa.select(Agent))) == [
            "globex agent",
            "globex twin",
        ]
        assert session.scalars(sa.select(Run)).one().id == "run-globex"


def test_orm_flush_update_and_delete_carry_the_tenant(sqlite):
    with sqlite.session("acme") as session:
        agent = session.get(Agent, ("ag-acme", "acme"))
        agent.name = "changed"
        session.delete(session.get(Agent, ("ag-shared-id", "acme")))
        session.commit()
    with sqlite.session("acme") as session:
        assert names(session.scalars(sa.select(Agent))) == ["changed"]


def test_insert_takes_the_tenant_from_the_context(sqlite):
    with sqlite.session("acme") as session:
        session.add(Agent(id="ag-new", name="new"))
        session.commit()
    with sqlite.session("acme") as session:
        assert session.get(Agent, ("ag-new", "acme")).name == "new"


def test_insert_naming_another_tenant_is_refused(sqlite):
    with sqlite.session("acme") as session:
        session.add(Agent(tenant_id="globex", id="ag-planted", name="planted"))
        with pytest.raises(TenantIsolationError, match="names another tenant"):
            session.commit()


def test_core_insert_naming_another_tenant_is_refused_by_the_guard(sqlite):
    with (
        sqlite.session("acme") as session,
        pytest.raises(TenantIsolationError, match="lacks a tenant predicate"),
    ):
        session.execute(sa.insert(Agent).values(tenant_id="globex", id="x", name="x"))


def test_core_insert_for_own_tenant_is_allowed(sqlite):
    with sqlite.session("acme") as session:
        session.execute(sa.insert(Agent).values(tenant_id="acme", id="x", name="x"))
        session.commit()


def test_raw_sql_without_predicate_is_refused(sqlite):
    with (
        sqlite.session("acme") as session,
        pytest.raises(TenantIsolationError, match="agents lacks a tenant predicate"),
    ):
        session.execute(sa.text("SELECT name FROM agents"))


def test_raw_sql_bound_to_another_tenant_is_refused(sqlite):
    with sqlite.session("acme") as session:
        statement = sa.text("SELECT name FROM agents WHERE agents.tenant_id = :tenant")
        with pytest.raises(TenantIsolationError):
            session.execute(statement, {"tenant": "globex"})


def test_raw_sql_bound_to_own_tenant_is_allowed(sqlite):
    with sqlite.session("acme") as session:
        statement = sa.text(
            "SELECT name FROM agents WHERE agents.tenant_id = :tenant ORDER BY name"
        )
        assert session.scalars(statement, {"tenant": "acme"}).all() == [
            "acme agent",
            "acme twin",
        ]


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param(
            "SELECT name FROM agents, runs WHERE agents.tenant_id = :t", id="comma-join"
        ),
        pytest.param(
            "SELECT name FROM main.agents WHERE x = :t", id="schema-qualified"
        ),
        pytest.param('SELECT name FROM "agents" WHERE "agents"."id" = :t', id="quoted"),
        pytest.param(
            "SELECT r.id FROM runs AS r WHERE runs.tenant_id = :t",
            id="alias-unfiltered",
        ),
        pytest.param(
            "SELECT (SELECT count(*) FROM runs) FROM agents WHERE agents.tenant_id = :t",
            id="subquery",
        ),
    ],
)
def test_tenant_table_hidden_in_the_sql_is_still_refused(sqlite, sql):
    with sqlite.session("acme") as session, pytest.raises(TenantIsolationError):
        session.execute(sa.text(sql), {"t": "acme"})


def test_tenant_tables_outside_a_tenant_context_are_refused(sqlite):
    with (
        sqlite.sessions() as session,
        pytest.raises(TenantIsolationError, match="outside a tenant context"),
    ):
        session.scalars(sa.select(Agent)).all()


def test_operator_scope_sees_every_tenant_and_is_audited(sqlite):
    with sqlite.sessions() as session, Tenancy.operator_scope(session, "owner lookup"):
        assert len(session.scalars(sa.select(Agent)).all()) == 4
    assert sqlite.operator_statements == ["owner lookup"]


def test_operator_scope_needs_a_reason(sqlite):
    scope = Tenancy.operator_scope(sqlite.sessions(), "")
    with pytest.raises(Exception, match="needs a reason"):
        scope.__enter__()


def test_switching_tenant_on_a_used_session_is_refused(sqlite):
    with sqlite.session("acme") as session:
        session.scalars(sa.select(Agent)).all()
        with pytest.raises(Exception, match="already in tenant 'acme'"):
            Tenancy.enter(session, "globex")


def test_recorder_counts_every_tenant_statement(sqlite):
    with sqlite.session("acme") as session:
        session.scalars(sa.select(Agent)).all()
        session.execute(sa.update(Agent).values(name="n"))
        session.commit()
    assert sqlite.recorder.on_tenant_tables == 2
    assert "2 statements on tenant tables" in sqlite.recorder.summary()


def test_recorder_counts_refused_statements(sqlite):
    with sqlite.session("acme") as session, pytest.raises(TenantIsolationError):
        session.execute(sa.text("SELECT name FROM agents"))
    assert sqlite.recorder.refused == 1


# -- PostgreSQL: row-level security underneath ------------------------------


@pytest.fixture
def pg(postgres):
    """A fresh database: the schema owned by the superuser, RLS enabled and
    forced, and an application role that owns nothing and cannot bypass RLS."""
    admin = sa.create_engine(postgres.url(), isolation_level="AUTOCOMMIT")
    database = f"tenancy_{id(admin) % 10**8}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {database}")
        if not connection.exec_driver_sql(
            f"SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}'"
        ).scalar():
            connection.exec_driver_sql(
                f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS"
            )
    owner = sa.create_engine(postgres.url(database=database))
    Base.metadata.create_all(owner)
    with owner.begin() as connection:
        for statement in rls_statements(TABLES, APP_ROLE):
            connection.exec_driver_sql(statement)
        connection.exec_driver_sql(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON agents, runs TO {APP_ROLE}"
        )
        for tenant in ("acme", "globex"):
            connection.execute(
                sa.insert(Agent).values(
                    tenant_id=tenant, id=f"ag-{tenant}", name=f"{tenant} agent"
                )
            )
    yield postgres.url(user=APP_ROLE, database=database), owner
    owner.dispose()
    admin.dispose()


def app_setup(url: str) -> Setup:
    """Tenancy hooks on the application role's engine (no seeding: RLS forbids it)."""
    setup = Setup.__new__(Setup)
    setup.engine = sa.create_engine(url, pool_size=1, max_overflow=0)
    setup.operator_statements, setup.recorder = [], StatementRecorder()
    setup.tenancy = Tenancy(
        TABLES, on_operator=lambda reason, sql: None, recorder=setup.recorder
    )
    setup.sessions = sessionmaker(setup.engine)
    return setup


def test_rls_alone_hides_foreign_rows_when_the_app_filter_is_gone(pg):
    url, _ = pg
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("SELECT set_config('app.tenant_id', 'acme', true)")
        assert connection.exec_driver_sql(
            "SELECT name FROM agents"
        ).scalars().all() == ["acme agent"]
    engine.dispose()


def test_rls_with_no_tenant_set_shows_no_rows(pg):
    url, _ = pg
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM agents").scalar() == 0
    engine.dispose()


def test_app_filter_alone_holds_when_rls_is_disabled(pg, postgres):
    url, owner = pg
    with owner.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE agents DISABLE ROW LEVEL SECURITY")
        connection.exec_driver_sql("ALTER TABLE agents NO FORCE ROW LEVEL SECURITY")
    setup = app_setup(url)
    setup.tenancy.install(setup.engine, setup.sessions)
    with setup.session("acme") as session:
        assert names(session.scalars(sa.select(Agent))) == ["acme agent"]
        with pytest.raises(TenantIsolationError):
            session.execute(sa.text("SELECT name FROM agents"))
    setup.engine.dispose()


def test_pooled_connection_never_carries_the_previous_tenant(pg):
    url, _ = pg
    setup = app_setup(url)
    setup.tenancy.install(setup.engine, setup.sessions)
    with setup.session("acme") as session:
        assert names(session.scalars(sa.select(Agent))) == ["acme agent"]
        session.commit()
    # The pool holds one connection: the next user gets the same one.
    with setup.engine.connect() as connection:
        # Straight to the driver, past every SQLAlchemy hook: what the
        # database itself now believes.
        cursor = connection.connection.driver_connection.cursor()
        cursor.execute("SELECT current_setting('app.tenant_id', true)")
        assert cursor.fetchone()[0] in (None, "")
        cursor.execute("SELECT count(*) FROM agents")
        assert cursor.fetchone()[0] == 0
    with setup.session("globex") as session:
        assert names(session.scalars(sa.select(Agent))) == ["globex agent"]
    setup.engine.dispose()


def test_app_role_cannot_disable_rls(pg):
    url, _ = pg
    engine = sa.create_engine(url)
    with (
        engine.begin() as connection,
        pytest.raises(sa.exc.ProgrammingError, match="must be owner"),
    ):
        connection.exec_driver_sql("ALTER TABLE agents DISABLE ROW LEVEL SECURITY")
    engine.dispose()


def test_app_role_cannot_write_a_row_for_another_tenant(pg):
    url, _ = pg
    engine = sa.create_engine(url)
    with (
        engine.begin() as connection,
        pytest.raises(sa.exc.ProgrammingError, match="row-level security"),
    ):
        connection.exec_driver_sql("SELECT set_config('app.tenant_id', 'acme', true)")
        connection.exec_driver_sql(
            "INSERT INTO agents (tenant_id, id, name) VALUES ('globex', 'x', 'planted')"
        )
    engine.dispose()


def test_operator_scope_reads_across_tenants_but_cannot_write(pg):
    url, _ = pg
    setup = app_setup(url)
    setup.tenancy.install(setup.engine, setup.sessions)
    with setup.sessions() as session, Tenancy.operator_scope(session, "owner lookup"):
        assert len(session.scalars(sa.select(Agent)).all()) == 2
        assert session.execute(sa.text("UPDATE agents SET name = 'x'")).rowcount == 0
        with pytest.raises(sa.exc.ProgrammingError, match="row-level security"):
            session.execute(sa.insert(Agent).values(tenant_id="acme", id="y", name="y"))
    setup.engine.dispose()
