"""Executions: echo runs of an agent, under the tenant's daily limit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest


def _agent(tenant) -> str:
    return tenant.post("/v1/agents", json={"name": "runner"}).json()["id"]


def _run(tenant, agent_id: str, text: str = "hi"):
    return tenant.post(f"/v1/agents/{agent_id}/executions", json={"input": text})


@pytest.fixture
def limited(stack):
    limits = {"max_agents": 5, "max_executions_per_day": 3}
    return stack.tenant("acme", limits=limits, ttl=2 * 86_400)


def test_execution_echoes_its_input(acme):
    agent_id = _agent(acme)

    response = _run(acme, agent_id, "hello")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "agent_id", "status", "input", "output", "created_at"}
    assert (body["agent_id"], body["status"], body["output"]) == (
        agent_id,
        "succeeded",
        "echo: hello",
    )


def test_viewer_cannot_execute(stack, acme):
    agent_id = _agent(acme)
    viewer = stack.tenant("acme", roles=("viewer",))

    assert _run(viewer, agent_id).status_code == 403


def test_execution_is_readable_both_ways(acme):
    agent_id = _agent(acme)
    execution = _run(acme, agent_id).json()

    direct = acme.get(f"/v1/executions/{execution['id']}")
    nested = acme.get(f"/v1/agents/{agent_id}/executions/{execution['id']}")

    assert direct.json() == nested.json() == execution


def test_execution_under_another_own_agent_is_not_found(acme):
    first, second = _agent(acme), _agent(acme)
    execution = _run(acme, first).json()

    response = acme.get(f"/v1/agents/{second}/executions/{execution['id']}")

    assert response.status_code == 404


def test_list_shows_only_that_agents_executions(acme):
    first, second = _agent(acme), _agent(acme)
    _run(acme, first)
    _run(acme, second)

    listing = acme.get(f"/v1/agents/{first}/executions").json()

    assert listing["total"] == 1
    assert listing["items"][0]["agent_id"] == first


def test_daily_limit_answers_429_until_the_next_utc_day(limited, clock):
    agent_id = _agent(limited)
    for _ in range(3):
        assert _run(limited, agent_id).status_code == 201

    refused = _run(limited, agent_id)

    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "limit_exceeded"
    assert int(refused.headers["Retry-After"]) == 12 * 3600  # pinned at noon UTC


def test_daily_limit_resets_at_midnight_utc(limited, clock):
    agent_id = _agent(limited)
    for _ in range(3):
        _run(limited, agent_id)

    clock.advance(hours=12)

    assert _run(limited, agent_id).status_code == 201


def test_deleting_the_agent_gives_no_quota_back(limited):
    agent_id = _agent(limited)
    for _ in range(3):
        _run(limited, agent_id)

    limited.delete(f"/v1/agents/{agent_id}")

    assert _run(limited, _agent(limited)).status_code == 429


def test_a_burst_of_parallel_runs_admits_exactly_the_limit(limited):
    agent_id = _agent(limited)

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(
            pool.map(lambda _: _run(limited, agent_id).status_code, range(12))
        )

    assert sorted(statuses) == [201] * 3 + [429] * 9
    assert limited.get(f"/v1/agents/{agent_id}/executions").json()["total"] == 3


def test_input_over_10000_characters_is_refused(acme):
    assert _run(acme, _agent(acme), "x" * 10_001).status_code == 400
    assert _run(acme, _agent(acme), "x" * 10_000).status_code == 201


def test_a_tool_whose_feature_is_on_may_be_used(stack):
    tenant = stack.tenant("acme", features={"code_interpreter": True})

    response = _run_with_tools(tenant, ["code_interpreter"])

    assert response.status_code == 201


@pytest.mark.parametrize(
    "features",
    [{"code_interpreter": False}, {}, {"web_browsing": True}],
    ids=["off", "absent", "other-feature-on"],
)
def test_a_tool_whose_feature_is_not_on_is_forbidden(stack, features):
    tenant = stack.tenant("acme", features=features)

    response = _run_with_tools(tenant, ["code_interpreter"])

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert tenant.get("/v1/audit").json()["records"][-1]["reason"] == "feature_disabled"


def test_another_tenants_feature_does_not_count(stack):
    stack.tenant("globex", features={"code_interpreter": True})
    acme = stack.tenant("acme")

    assert _run_with_tools(acme, ["code_interpreter"]).status_code == 403


def _run_with_tools(tenant, tools: list[str]):
    agent_id = _agent(tenant)
    body = {"input": "x", "tools": tools}
    return tenant.post(f"/v1/agents/{agent_id}/executions", json=body)
