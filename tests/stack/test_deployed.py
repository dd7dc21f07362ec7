"""The stack on its deployed parts: a real OPA server, a real PostgreSQL."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine

from stack.audit import verify_chain

MISSING_AGENT = "ag_000000000000000000000000"


@pytest.fixture
def postgres_url(postgres) -> str:
    """A fresh database in the session's PostgreSQL cluster."""
    name = f"stack_{secrets.token_hex(6)}"
    admin = create_engine(postgres.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return postgres.url(database=name)


def _unique(prefix: str) -> str:
    # The OPA server is shared by the whole session: never reuse a tenant ID.
    return f"{prefix}-{secrets.token_hex(4)}"


@pytest.mark.opa
def test_with_opa_tenant_configuration_reaches_the_policies(make_stack, opa_server):
    stack = make_stack(engine="opa", opa_url=opa_server.url)
    limits = {"max_agents": 1, "max_executions_per_day": 1}
    tenant = stack.tenant(_unique("stack-opa"), limits=limits)

    first = tenant.post("/v1/agents", json={"name": "a"})
    second = tenant.post("/v1/agents", json={"name": "b"})

    assert stack.client.get("/health").json()["engine"] == "opa"
    assert (first.status_code, second.status_code) == (201, 429)


@pytest.mark.opa
def test_with_opa_a_foreign_object_is_indistinguishable_from_missing(
    make_stack, opa_server
):
    stack = make_stack(engine="opa", opa_url=opa_server.url)
    attacker = stack.tenant(_unique("stack-attacker"))
    victim = stack.tenant(_unique("stack-victim"))
    agent_id = victim.post("/v1/agents", json={"name": "canary"}).json()["id"]

    foreign = attacker.get(f"/v1/agents/{agent_id}")
    missing = attacker.get(f"/v1/agents/{MISSING_AGENT}")

    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content


@pytest.mark.postgres
def test_on_postgres_tenants_stay_apart(make_stack, postgres_url):
    stack = make_stack(db_url=postgres_url)
    acme, globex = stack.tenant("acme"), stack.tenant("globex")
    agent_id = globex.post("/v1/agents", json={"name": "canary"}).json()["id"]

    foreign = acme.get(f"/v1/agents/{agent_id}")
    missing = acme.get(f"/v1/agents/{MISSING_AGENT}")

    assert globex.get(f"/v1/agents/{agent_id}").status_code == 200
    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content
    assert acme.get("/v1/agents").json() == {"items": [], "total": 0}


@pytest.mark.postgres
def test_on_postgres_a_burst_admits_exactly_the_limit(make_stack, postgres_url):
    stack = make_stack(db_url=postgres_url)
    limits = {"max_agents": 5, "max_executions_per_day": 4}
    acme = stack.tenant("acme", limits=limits)
    agent_id = acme.post("/v1/agents", json={"name": "runner"}).json()["id"]

    def run(_):
        path = f"/v1/agents/{agent_id}/executions"
        return acme.post(path, json={"input": "x"}).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(run, range(16)))

    assert sorted(statuses) == [201] * 4 + [429] * 12


@pytest.mark.postgres
def test_on_postgres_parallel_audit_writes_keep_one_chain(make_stack, postgres_url):
    stack = make_stack(db_url=postgres_url)
    acme = stack.tenant("acme")

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda _: acme.get(f"/v1/agents/{MISSING_AGENT}"), range(48)))

    records = stack.audit()
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert verify_chain(records) is None


@pytest.fixture
def postgres_rls_urls(postgres) -> tuple[str, str]:
    """(owner URL, application-role URL): the app role cannot bypass RLS."""
    return postgres.create_database(f"keys_{secrets.token_hex(6)}", "tg_keys_app")


@pytest.mark.postgres
def test_on_postgres_with_rls_keys_rotate_and_reencrypt_per_tenant(
    make_stack, postgres_rls_urls
):
    owner_url, app_url = postgres_rls_urls
    stack = make_stack(db_url=app_url, db_owner_url=owner_url)
    acme, globex = stack.tenant("acme"), stack.tenant("globex")
    mine = acme.post("/v1/credentials", json={"name": "a", "secret": "sk-acme"})
    theirs = globex.post("/v1/credentials", json={"name": "g", "secret": "sk-glob"})
    verify = f"/v1/credentials/{mine.json()['id']}/verify"

    rotated = stack.client.post(
        "/admin/tenants/acme/keys/rotate", headers=stack.operator
    )
    done = stack.client.post(
        "/admin/tenants/acme/keys/reencrypt", headers=stack.operator
    )
    probe = acme.get("/v1/agents", params={"id": "ag_" + "0" * 24})
    foreign = acme.get("/v1/credentials", params={"id": theirs.json()["id"]})

    assert rotated.status_code == 200, rotated.text
    assert done.json() == {
        "resealed": 1,
        "batches": 1,
        "unreadable": 0,
        "finished": True,
    }
    assert acme.post(verify, json={"secret": "sk-acme"}).json() == {"match": True}
    assert (probe.status_code, foreign.status_code) == (200, 200)
    events = [(r["event"], r["reason"]) for r in stack.audit()]
    assert ("denied", "unknown_reference") in events
    assert ("cross_tenant_attempt", "foreign_reference") in events
    assert stack.client.get("/admin/audit/verify", headers=stack.operator).json()["ok"]
