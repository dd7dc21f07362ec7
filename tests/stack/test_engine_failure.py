"""No decision means no access: every tenant route fails closed with 503."""

from __future__ import annotations

import logging

import pytest

from enforcement import Embedded
from stack.settings import DEFAULT_POLICY_DIR
from tests.stack.fakes import BuggyEngine, OutageEngine, unreachable_engine

UNAVAILABLE = "policy_unavailable"
AGENT = "ag_000000000000000000000000"
ROUTES = [
    ("POST", "/v1/agents", {"name": "a"}),
    ("GET", "/v1/agents", None),
    ("GET", f"/v1/agents/{AGENT}", None),
    ("PATCH", f"/v1/agents/{AGENT}", {"name": "b"}),
    ("DELETE", f"/v1/agents/{AGENT}", None),
    ("POST", f"/v1/agents/{AGENT}/executions", {"input": "x"}),
    ("GET", "/v1/executions/ex_000000000000000000000000", None),
    ("POST", "/v1/credentials", {"name": "c", "secret": "s"}),
    ("GET", "/v1/credentials", None),
    ("PUT", "/v1/files/a.txt", None),
    ("GET", "/v1/files", None),
    ("GET", "/v1/files/a.txt", None),
    ("GET", "/v1/config", None),
    ("GET", "/v1/audit", None),
]


@pytest.fixture
def down_stack(make_stack):
    return make_stack(policy_engine=unreachable_engine())


@pytest.mark.parametrize(
    ("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES]
)
def test_every_tenant_route_answers_503_when_the_engine_is_unreachable(
    down_stack, method, path, body
):
    acme = down_stack.tenant("acme")

    response = acme.request(method, path, json=body)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == UNAVAILABLE


def test_own_existing_object_is_503_not_200_during_an_outage(make_stack):
    engine = OutageEngine(Embedded(DEFAULT_POLICY_DIR, {"tenants": {}}))
    acme = make_stack(policy_engine=engine).tenant("acme")
    agent_id = acme.post("/v1/agents", json={"name": "a"}).json()["id"]

    engine.down = True

    assert acme.get(f"/v1/agents/{agent_id}").status_code == 503
    engine.down = False
    assert acme.get(f"/v1/agents/{agent_id}").status_code == 200


def test_foreign_and_missing_objects_answer_alike_during_an_outage(make_stack):
    engine = OutageEngine(Embedded(DEFAULT_POLICY_DIR, {"tenants": {}}))
    stack = make_stack(policy_engine=engine)
    acme, globex = stack.tenant("acme"), stack.tenant("globex")
    foreign = globex.post("/v1/agents", json={"name": "a"}).json()["id"]

    engine.down = True
    responses = [acme.get(f"/v1/agents/{foreign}"), acme.get(f"/v1/agents/{AGENT}")]

    assert [r.status_code for r in responses] == [503, 503]
    assert responses[0].content == responses[1].content


def test_the_outage_is_audited(down_stack):
    acme = down_stack.tenant("acme")

    response = acme.get("/v1/agents")

    [record] = down_stack.audit(request_id=response.headers["X-Request-ID"])
    assert (record["event"], record["reason"]) == ("denied", "engine_unavailable")


def test_a_genuine_bug_is_a_generic_logged_500(make_stack, caplog):
    stack = make_stack(policy_engine=BuggyEngine(None), raise_server_exceptions=False)
    acme = stack.tenant("acme")

    with caplog.at_level(logging.ERROR, logger="tenantguard.stack"):
        response = acme.get("/v1/agents")

    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "internal error"}
    }
    assert "s3cr3t" not in response.text
    assert "X-Request-ID" in response.headers
    assert "unhandled error" in caplog.text


def test_an_audit_log_that_cannot_be_written_fails_closed(stack, acme):
    with stack.client.app.state.services.database.begin() as connection:
        connection.exec_driver_sql("DROP TABLE audit_records")

    response = acme.get("/v1/agents/ag_000000000000000000000000")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == UNAVAILABLE
