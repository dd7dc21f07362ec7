"""The whole scenario suite against the stack, with the statement guard
counting: every statement on a tenant table carried its tenant predicate, on
SQLite and on PostgreSQL with row-level security underneath."""

from __future__ import annotations

import os

import pytest
import requests
import sqlalchemy as sa

from harness.stackproc import ReferenceStack
from tests.suite import run_suite


def statement_counts(stack: ReferenceStack) -> dict:
    answer = requests.get(
        f"{stack.url}/admin/statements",
        headers={"X-Operator-Key": stack.operator_key},
        timeout=10,
    )
    answer.raise_for_status()
    return answer.json()


def assert_every_statement_was_scoped(counts: dict, report: dict, label: str) -> None:
    print(
        f"\n{label}: {report['summary']} -- {counts['on_tenant_tables']} statements on "
        f"tenant tables with a tenant predicate, {counts['refused']} refused, "
        f"{counts['operator']} in operator scope; per table {counts['tables']}"
    )
    assert counts["refused"] == 0
    assert counts["on_tenant_tables"] > 1000
    assert set(counts["tables"]) >= {
        "agents",
        "executions",
        "credentials",
        "files",
        "tenants",
    }


def test_suite_on_sqlite_sends_no_unscoped_statement(opa_binary, tmp_path):
    with ReferenceStack(tmp_path / "stack", engine="opa") as stack:
        report = run_suite(stack, tmp_path / "report")
        assert_every_statement_was_scoped(statement_counts(stack), report, "sqlite")


@pytest.fixture
def postgres_urls(postgres, monkeypatch):
    owner_url, app_url = postgres.create_database(
        f"suite_{os.getpid()}", "tg_stack_app"
    )
    monkeypatch.setenv("TENANTGUARD_DB_OWNER_URL", owner_url)
    return owner_url, app_url


def forced_rls_tables(owner_url: str) -> set[str]:
    engine = sa.create_engine(owner_url)
    with engine.connect() as connection:
        tables = set(
            connection.exec_driver_sql(
                "SELECT relname FROM pg_class WHERE relrowsecurity AND relforcerowsecurity"
            ).scalars()
        )
    engine.dispose()
    return tables


def test_suite_on_postgres_with_rls_sends_no_unscoped_statement(
    opa_binary, postgres_urls, tmp_path
):
    owner_url, app_url = postgres_urls
    with ReferenceStack(tmp_path / "stack", engine="opa", db_url=app_url) as stack:
        report = run_suite(stack, tmp_path / "report")
        assert_every_statement_was_scoped(statement_counts(stack), report, "postgresql")
    tenant_tables = {"tenants", "agents", "executions", "credentials", "files"}
    assert forced_rls_tables(owner_url) >= tenant_tables
