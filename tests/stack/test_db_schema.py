"""The schema on PostgreSQL: row-level security is set up once, and a stack
(or an API worker) starting on a secured database issues no DDL at all."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import event

from stack.db import TENANT_TABLES, connect, create_schema


def _ddl_of(postgres, owner_url: str, app_url: str) -> list[str]:
    owner, app = connect(owner_url), connect(app_url)
    statements: list[str] = []

    @event.listens_for(owner, "before_cursor_execute")
    def record(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith(("ALTER", "CREATE POLICY", "GRANT")):
            statements.append(statement)

    try:
        create_schema(app, owner)
    finally:
        owner.dispose()
        app.dispose()
    return statements


@pytest.fixture
def urls(postgres) -> tuple[str, str]:
    return postgres.create_database(f"schema_{secrets.token_hex(5)}", "tg_schema_app")


@pytest.mark.postgres
def test_the_first_start_secures_every_tenant_table(postgres, urls):
    statements = _ddl_of(postgres, *urls)

    forced = {s.split('"')[1] for s in statements if "FORCE ROW LEVEL" in s}
    assert forced == set(TENANT_TABLES)


@pytest.mark.postgres
def test_a_start_on_a_secured_database_issues_no_ddl(postgres, urls):
    _ddl_of(postgres, *urls)

    assert _ddl_of(postgres, *urls) == []
