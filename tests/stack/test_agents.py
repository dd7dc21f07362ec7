"""Agents: create, list, read, update, replace, delete; roles and limits."""

from __future__ import annotations

import pytest

MISSING_AGENT = "/v1/agents/ag_000000000000000000000000"


@pytest.fixture
def agent(acme) -> dict:
    response = acme.post("/v1/agents", json={"name": "helper", "model": "m-1"})
    assert response.status_code == 201, response.text
    return response.json()


def test_create_answers_the_agent_without_tenant(acme):
    response = acme.post("/v1/agents", json={"name": "helper", "description": "d"})

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "id",
        "name",
        "description",
        "model",
        "created_at",
        "updated_at",
    }
    assert body["id"].startswith("ag_")
    assert (body["name"], body["description"], body["model"]) == ("helper", "d", None)


def test_viewer_cannot_create(stack, acme):
    viewer = stack.tenant("acme", roles=("viewer",))

    response = viewer.post("/v1/agents", json={"name": "helper"})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert acme.get("/v1/agents").json()["total"] == 0


def test_read_own_agent(acme, agent):
    response = acme.get(f"/v1/agents/{agent['id']}")

    assert response.status_code == 200
    assert response.json() == agent


def test_read_missing_agent_is_not_found(acme):
    assert acme.get(MISSING_AGENT).status_code == 404


def test_list_pages_through_own_agents(acme, clock):
    for index in range(3):
        acme.post("/v1/agents", json={"name": f"a{index}"})
        clock.advance(seconds=1)

    first = acme.get("/v1/agents", params={"limit": 2}).json()
    second = acme.get("/v1/agents", params={"limit": 2, "offset": 2}).json()

    assert first["total"] == second["total"] == 3
    assert [a["name"] for a in first["items"] + second["items"]] == ["a0", "a1", "a2"]


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "x"}, {"offset": 10**30}],
)
def test_list_refuses_page_sizes_out_of_range(acme, params):
    response = acme.get("/v1/agents", params=params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_patch_changes_only_the_given_fields(acme, agent, clock):
    clock.advance(seconds=5)

    response = acme.patch(f"/v1/agents/{agent['id']}", json={"description": "new"})

    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["description"], body["model"]) == (
        "helper",
        "new",
        "m-1",
    )
    assert body["updated_at"] > agent["updated_at"]


def test_patch_refuses_a_null_name(acme, agent):
    response = acme.patch(f"/v1/agents/{agent['id']}", json={"name": None})

    assert response.status_code == 400


def test_put_replaces_the_agent(acme, agent):
    response = acme.put(f"/v1/agents/{agent['id']}", json={"name": "other"})

    assert response.status_code == 200
    assert (response.json()["name"], response.json()["model"]) == ("other", None)


def test_put_needs_a_name(acme, agent):
    response = acme.put(f"/v1/agents/{agent['id']}", json={"model": "m"})

    assert response.status_code == 400


def test_admin_deletes_and_the_agent_is_gone(acme, agent):
    response = acme.delete(f"/v1/agents/{agent['id']}")

    assert response.status_code == 204
    assert acme.get(f"/v1/agents/{agent['id']}").status_code == 404
    assert acme.get("/v1/agents").json() == {"items": [], "total": 0}


def test_member_cannot_delete(stack, acme, agent):
    member = stack.tenant("acme", roles=("member",))

    response = member.delete(f"/v1/agents/{agent['id']}")

    assert response.status_code == 403
    assert acme.get(f"/v1/agents/{agent['id']}").status_code == 200


def test_unknown_role_grants_nothing(stack, agent):
    stranger = stack.tenant("acme", roles=("superuser",))

    assert stranger.get(f"/v1/agents/{agent['id']}").status_code == 403


def test_agents_limit_answers_429_with_retry_after(stack):
    acme = stack.tenant("acme", limits={"max_agents": 2, "max_executions_per_day": 5})
    for index in range(2):
        assert acme.post("/v1/agents", json={"name": f"a{index}"}).status_code == 201

    response = acme.post("/v1/agents", json={"name": "one too many"})

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "limit_exceeded"
    assert int(response.headers["Retry-After"]) > 0
    assert acme.get("/v1/agents").json()["total"] == 2


def test_deleting_an_agent_frees_its_slot(stack):
    acme = stack.tenant("acme", limits={"max_agents": 1, "max_executions_per_day": 5})
    first = acme.post("/v1/agents", json={"name": "a"}).json()

    acme.delete(f"/v1/agents/{first['id']}")

    assert acme.post("/v1/agents", json={"name": "b"}).status_code == 201
