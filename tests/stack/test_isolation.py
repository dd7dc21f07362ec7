"""Another tenant's object answers exactly like one that does not exist, and
the attempt is audited for the operator (never shown to the tenant)."""

from __future__ import annotations

import pytest

NOT_FOUND = b'{"error":{"code":"not_found","message":"resource not found"}}'
MISSING = {
    "agent": "ag_000000000000000000000000",
    "execution": "ex_000000000000000000000000",
    "credential": "cr_000000000000000000000000",
}


@pytest.fixture
def victim_objects(globex) -> dict[str, str]:
    agent = globex.post("/v1/agents", json={"name": "canary-agent"}).json()["id"]
    execution = globex.post(f"/v1/agents/{agent}/executions", json={"input": "canary"})
    credential = globex.post(
        "/v1/credentials", json={"name": "canary", "secret": "canary"}
    )
    return {
        "agent": agent,
        "execution": execution.json()["id"],
        "credential": credential.json()["id"],
    }


def _requests(
    ids: dict[str, str], own_agent: str
) -> list[tuple[str, str, dict | None]]:
    """Every request that names one object, as (method, path, body)."""
    agent, execution, credential = ids["agent"], ids["execution"], ids["credential"]
    return [
        ("GET", f"/v1/agents/{agent}", None),
        ("PATCH", f"/v1/agents/{agent}", {"name": "x"}),
        ("PUT", f"/v1/agents/{agent}", {"name": "x"}),
        ("DELETE", f"/v1/agents/{agent}", None),
        ("POST", f"/v1/agents/{agent}/executions", {"input": "x"}),
        ("GET", f"/v1/agents/{agent}/executions", None),
        ("GET", f"/v1/executions/{execution}", None),
        ("GET", f"/v1/agents/{own_agent}/executions/{execution}", None),
        ("GET", f"/v1/credentials/{credential}", None),
        ("DELETE", f"/v1/credentials/{credential}", None),
    ]


@pytest.mark.parametrize("index", range(10))
def test_foreign_object_is_indistinguishable_from_missing(acme, victim_objects, index):
    own_agent = acme.post("/v1/agents", json={"name": "mine"}).json()["id"]
    method, foreign_path, body = _requests(victim_objects, own_agent)[index]
    _, missing_path, _ = _requests(MISSING, own_agent)[index]

    foreign = acme.request(method, foreign_path, json=body)
    missing = acme.request(method, missing_path, json=body)

    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content == NOT_FOUND
    assert _stable(foreign.headers) == _stable(missing.headers)


def test_viewer_sees_the_same_404_for_foreign_and_missing(stack, victim_objects):
    viewer = stack.tenant("acme", roles=("viewer",))
    path = f"/v1/agents/{victim_objects['agent']}"

    foreign = viewer.delete(path)
    missing = viewer.delete(f"/v1/agents/{MISSING['agent']}")

    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content


def test_foreign_objects_are_untouched(acme, globex, victim_objects):
    agent = victim_objects["agent"]
    acme.patch(f"/v1/agents/{agent}", json={"name": "pwned"})
    acme.delete(f"/v1/agents/{agent}")
    acme.delete(f"/v1/credentials/{victim_objects['credential']}")

    assert globex.get(f"/v1/agents/{agent}").json()["name"] == "canary-agent"
    assert (
        globex.get(f"/v1/credentials/{victim_objects['credential']}").status_code == 200
    )
    assert globex.get(f"/v1/agents/{agent}/executions").json()["total"] == 1


def test_lists_hold_only_own_objects(acme, victim_objects):
    acme.post("/v1/agents", json={"name": "mine"})

    agents = acme.get("/v1/agents").json()
    credentials = acme.get("/v1/credentials").json()

    assert [a["name"] for a in agents["items"]] == ["mine"]
    assert credentials == {"items": [], "total": 0}
    assert "canary" not in acme.get("/v1/files").text


def test_cross_tenant_attempt_is_audited_with_the_target_for_the_operator(
    stack, acme, victim_objects
):
    response = acme.get(f"/v1/agents/{victim_objects['agent']}")

    records = stack.audit(request_id=response.headers["X-Request-ID"])

    assert len(records) == 1
    assert records[0]["event"] == "cross_tenant_attempt"
    assert (records[0]["actor_tenant"], records[0]["target_tenant"]) == (
        "acme",
        "globex",
    )
    assert records[0]["resource_id"] == victim_objects["agent"]


def test_missing_object_is_audited_as_a_plain_denial(stack, acme):
    response = acme.get(f"/v1/agents/{MISSING['agent']}")

    [record] = stack.audit(request_id=response.headers["X-Request-ID"])

    assert (record["event"], record["reason"], record["target_tenant"]) == (
        "denied",
        "not_found",
        None,
    )


def test_tenant_audit_view_hides_the_target_tenant(acme, victim_objects):
    acme.get(f"/v1/agents/{victim_objects['agent']}")

    records = acme.get("/v1/audit").json()["records"]

    assert [r["event"] for r in records] == ["cross_tenant_attempt"]
    assert "target_tenant" not in records[0]
    assert "globex" not in acme.get("/v1/audit").text


def test_tenant_audit_view_holds_only_own_records(stack, acme, globex, victim_objects):
    globex.get(f"/v1/agents/{MISSING['agent']}")

    assert acme.get("/v1/audit").json() == {"records": []}


def test_non_admin_cannot_read_the_tenant_audit(stack):
    member = stack.tenant("acme", roles=("member",))

    assert member.get("/v1/audit").status_code == 403


def test_config_is_the_callers_own(stack, acme):
    stack.create_tenant("globex", plan="enterprise")

    response = acme.get("/v1/config", headers={"X-Tenant-ID": "globex"})

    assert response.json()["id"] == "acme"
    assert response.json()["plan"] == "free"


def _stable(headers) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() != "x-request-id"}
