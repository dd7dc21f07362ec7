"""The trail: every request that names another tenant's object is audited,
wherever the ID sits and whatever the route answered; every 4xx answered to
a verified caller leaves a record; a trail that cannot be written is a 503."""

from __future__ import annotations

import pytest

MISSING = "ag_000000000000000000000000"


@pytest.fixture
def theirs(globex) -> str:
    return globex.post("/v1/agents", json={"name": "canary"}).json()["id"]


@pytest.fixture
def mine(acme) -> str:
    return acme.post("/v1/agents", json={"name": "mine"}).json()["id"]


def records_of(stack, response) -> list[dict]:
    return stack.audit(request_id=response.headers["X-Request-ID"])


def cross_tenant(stack, response, object_id: str) -> dict:
    found = [
        r
        for r in records_of(stack, response)
        if r["event"] == "cross_tenant_attempt" and r["resource_id"] == object_id
    ]
    assert len(found) == 1, records_of(stack, response)
    assert found[0]["target_tenant"] == "globex"
    return found[0]


PLACES = {
    "query": lambda c, i: c.get("/v1/agents", params={"id": i}),
    "repeated-query": lambda c, i: c.get("/v1/agents", params=[("id", i), ("ids", i)]),
    "header": lambda c, i: c.get("/v1/agents", headers={"X-Agent-Id": i}),
    "upper-case": lambda c, i: c.get("/v1/agents", params={"id": i.upper()}),
    "body-field": lambda c, i: c.post("/v1/agents", json={"name": "a", "agent_id": i}),
    "form-body": lambda c, i: c.post("/v1/agents", data={"agent_id": i}),
    "trailing-slash": lambda c, i: c.get(f"/v1/agents/{i}/"),
    "wrong-method": lambda c, i: c.post(f"/v1/agents/{i}", json={"name": "x"}),
    "bad-body": lambda c, i: c.patch(f"/v1/agents/{i}", json={"name": {"$ne": 1}}),
    "id-array": lambda c, i: c.get(f'/v1/agents/["{i}"]'),
    "unknown-child": lambda c, i: c.get(f"/v1/agents/{i}/secrets"),
}


@pytest.mark.parametrize("place", PLACES)
def test_a_foreign_id_anywhere_in_a_request_is_audited(stack, acme, theirs, place):
    response = PLACES[place](acme, theirs)

    record = cross_tenant(stack, response, theirs)
    assert record["reason"] == "foreign_reference"
    assert (record["actor_tenant"], record["decision"]) == ("acme", "deny")
    assert "canary" not in response.text


def test_a_foreign_id_resolved_by_the_route_is_audited_once(stack, acme, theirs):
    response = acme.get(f"/v1/agents/{theirs}", params={"id": theirs})

    record = cross_tenant(stack, response, theirs)
    assert record["reason"] == "not_found"  # the route's own record


def test_an_unknown_id_is_audited_like_a_foreign_one(stack, acme):
    response = acme.get("/v1/agents", params={"id": MISSING})

    assert [(r["event"], r["reason"]) for r in records_of(stack, response)] == [
        ("denied", "unknown_reference")
    ]


def test_an_own_id_leaves_no_record(stack, acme, mine):
    response = acme.get("/v1/agents", params={"id": mine})

    assert response.status_code == 200
    assert records_of(stack, response) == []


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("GET", "/v1/nothing-here", "not_found"),
        ("DELETE", "/v1/agents", "method_not_allowed"),
        ("POST", "/v1/agents", "invalid_request"),
    ],
)
def test_every_4xx_to_a_verified_caller_is_audited(stack, acme, method, path, code):
    response = acme.request(method, path, content=b"{")

    assert 400 <= response.status_code < 500
    assert [(r["event"], r["reason"]) for r in records_of(stack, response)] == [
        ("denied", code)
    ]


def test_the_operators_own_4xx_is_audited(stack):
    response = stack.create_tenant("../globex")

    assert response.status_code == 400
    [record] = records_of(stack, response)
    assert (record["actor_user"], record["reason"]) == ("operator", "invalid_request")


def test_an_unknown_route_without_a_token_stays_a_plain_404(stack):
    response = stack.client.get("/v1/nothing-here")

    assert response.status_code == 404
    assert records_of(stack, response) == []


def test_a_trail_that_cannot_be_written_fails_closed(stack, acme, theirs):
    with stack.client.app.state.services.database.begin() as connection:
        connection.exec_driver_sql("DROP TABLE audit_records")

    response = acme.get("/v1/agents", params={"id": theirs})

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "policy_unavailable"
    assert "canary" not in response.text
