"""The stack's quotas through its API, with the clock pinned: the tenant's own
day, daylight saving, the audited 429, freed agent slots, the operator's view."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

ONE_A_DAY = {"max_agents": 2, "max_executions_per_day": 1}


def _agent(tenant) -> str:
    return tenant.post("/v1/agents", json={"name": "runner"}).json()["id"]


def _run(tenant, agent_id: str):
    return tenant.post(f"/v1/agents/{agent_id}/executions", json={"input": "x"})


def _tenant(stack, tenant_id: str, timezone: str):
    return stack.tenant(tenant_id, limits=ONE_A_DAY, timezone=timezone, ttl=86_400)


def _usage(stack, tenant_id: str, **headers):
    path = f"/admin/tenants/{tenant_id}/usage"
    return stack.client.get(path, headers=headers or stack.operator)


def test_the_limit_resets_at_the_tenants_midnight(stack, clock):
    clock.now = datetime(2026, 12, 3, 14, 59, 59, tzinfo=UTC)  # 23:59:59 in Tokyo
    tokyo = _tenant(stack, "tokyo", "Asia/Tokyo")
    agent = _agent(tokyo)
    _run(tokyo, agent)

    refused = _run(tokyo, agent)
    clock.advance(seconds=1)

    assert (refused.status_code, refused.headers["Retry-After"]) == (429, "1")
    assert _run(tokyo, agent).status_code == 201


def test_a_utc_tenant_is_still_refused_at_the_same_instant(stack, clock):
    clock.now = datetime(2026, 12, 3, 14, 59, 59, tzinfo=UTC)
    london = _tenant(stack, "london", "UTC")
    agent = _agent(london)
    _run(london, agent)
    clock.advance(seconds=1)

    refused = _run(london, agent)

    assert (refused.status_code, refused.headers["Retry-After"]) == (429, "32400")


def test_on_a_spring_forward_day_retry_after_counts_23_hours(stack, clock):
    clock.now = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)  # 00:30 CET, 29 March
    berlin = _tenant(stack, "berlin", "Europe/Berlin")
    agent = _agent(berlin)
    _run(berlin, agent)

    refused = _run(berlin, agent)

    assert refused.headers["Retry-After"] == str(22 * 3600 + 1800)


def test_on_a_fall_back_day_retry_after_counts_25_hours(stack, clock):
    clock.now = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)  # 00:00 CEST, 25 October
    berlin = _tenant(stack, "berlin", "Europe/Berlin")
    agent = _agent(berlin)
    _run(berlin, agent)

    refused = _run(berlin, agent)

    assert refused.headers["Retry-After"] == str(25 * 3600)


def test_the_last_second_of_a_fall_back_day_is_still_that_day(stack, clock):
    clock.now = datetime(2026, 10, 25, 22, 59, 59, tzinfo=UTC)  # 23:59:59 CET
    berlin = _tenant(stack, "berlin", "Europe/Berlin")
    agent = _agent(berlin)
    _run(berlin, agent)

    refused = _run(berlin, agent)
    clock.advance(seconds=1)

    assert refused.headers["Retry-After"] == "1"
    assert _run(berlin, agent).status_code == 201


def test_an_exhausted_limit_is_audited(stack):
    acme = _tenant(stack, "acme", "UTC")
    agent = _agent(acme)
    _run(acme, agent)

    refused = _run(acme, agent)

    record = acme.get("/v1/audit").json()["records"][-1]
    assert refused.json()["error"]["code"] == "limit_exceeded"
    assert (record["event"], record["reason"], record["action"]) == (
        "denied",
        "limit_exceeded",
        "execute",
    )


def test_a_deleted_agent_frees_its_slot(stack):
    acme = _tenant(stack, "acme", "UTC")
    first, _ = _agent(acme), _agent(acme)
    assert acme.post("/v1/agents", json={"name": "third"}).status_code == 429

    acme.delete(f"/v1/agents/{first}")

    assert acme.post("/v1/agents", json={"name": "third"}).status_code == 201


def test_without_a_delete_the_agent_limit_stays(stack):
    acme = _tenant(stack, "acme", "UTC")
    _agent(acme), _agent(acme)
    acme.get("/v1/agents")

    assert acme.post("/v1/agents", json={"name": "third"}).status_code == 429


def test_a_refused_request_takes_no_slot(stack):
    acme = _tenant(stack, "acme", "UTC")
    agent = _agent(acme)
    for _ in range(4):
        _run(acme, agent)

    usage = _usage(stack, "acme").json()

    assert usage["executions"]["days"] == {"2026-12-03": {"count": 1, "counter": 1}}


def test_the_operator_reads_the_rows_beside_the_counters(stack):
    acme = _tenant(stack, "acme", "UTC")
    agent = _agent(acme)
    execution = _run(acme, agent).json()["id"]

    usage = _usage(stack, "acme").json()

    assert usage["agents"] == {"count": 1, "counter": 1, "ids": [agent]}
    assert usage["executions"]["ids"] == [execution]
    assert usage["limits"] == ONE_A_DAY


@pytest.mark.parametrize("key", ["wrong", None], ids=["wrong-key", "no-key"])
def test_the_usage_is_not_found_without_the_operator_key(stack, key):
    _tenant(stack, "acme", "UTC")
    headers = {"X-Operator-Key": key} if key else {"X-Nothing": "1"}

    assert _usage(stack, "acme", **headers).status_code == 404


def test_a_tenant_token_cannot_read_the_usage(stack):
    acme = _tenant(stack, "acme", "UTC")

    assert acme.get("/admin/tenants/acme/usage").status_code == 404
