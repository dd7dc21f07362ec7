"""Tenant configuration: validated, stored, published to the engine, audited;
seeded from the tenants file; its time zone and storage quota take effect."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from enforcement import EngineError
from tests.stack.fakes import ALLOW, FixedAnswerEngine

MIB = 1024 * 1024


def patch(stack, tenant: str, body):
    return stack.client.patch(
        f"/admin/tenants/{tenant}", json=body, headers=stack.operator
    )


def test_a_change_is_stored_published_and_audited(stack, acme):
    answer = patch(
        stack, "acme", {"features": {"web_browsing": True}, "timezone": "Asia/Tokyo"}
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["features"] == {"web_browsing": True}
    assert answer.json()["config_version"] == 2
    assert acme.get("/v1/config").json()["timezone"] == "Asia/Tokyo"
    records = [r for r in stack.audit() if r["event"] == "config_change"]
    assert len(records) == 1
    assert records[0]["request_id"] == answer.headers["X-Request-ID"]
    assert (records[0]["target_tenant"], records[0]["actor_user"]) == (
        "acme",
        "operator",
    )
    assert json.loads(records[0]["detail"]) == {
        "version": 2,
        "changes": {
            "features.web_browsing": [None, True],
            "timezone": ["UTC", "Asia/Tokyo"],
        },
    }


def test_the_engine_receives_the_new_configuration(make_stack):
    engine = FixedAnswerEngine(ALLOW)
    stack = make_stack(policy_engine=engine)
    stack.create_tenant("acme")

    patch(stack, "acme", {"limits": {"max_agents": 3}})

    assert engine.data["tenants/acme"]["limits"] == {
        "max_agents": 3,
        "max_executions_per_day": 100,
    }


def test_an_engine_refusing_the_change_means_no_change(make_stack):
    class RefusesUpdates(FixedAnswerEngine):
        refuse = False

        def put_data(self, path, value):
            if self.refuse:
                raise EngineError("no")
            super().put_data(path, value)

    engine = RefusesUpdates(ALLOW)
    stack = make_stack(policy_engine=engine)
    stack.create_tenant("acme")
    engine.refuse = True

    answer = patch(stack, "acme", {"plan": "enterprise"})

    assert answer.status_code == 503
    current = stack.client.get("/admin/tenants/acme", headers=stack.operator).json()
    assert (current["plan"], current["config_version"]) == ("free", 1)
    assert not [r for r in stack.audit() if r["event"] == "config_change"]


def test_no_change_is_neither_published_nor_audited(stack, acme):
    patch(stack, "acme", {"plan": "free"})

    assert not [r for r in stack.audit() if r["event"] == "config_change"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"plan": "gold"}, "'gold' is not a plan"),
        ({"limits": {"max_agents": -1}}, "must be a whole number"),
        ({"features": {"web_browsing": "yes"}}, "must be true or false"),
        ({"timezone": "Europe/Atlantis"}, "is not a time zone"),
        ({"key_rotation_days": 0}, "number of days"),
        ({"id": "globex"}, "unknown keys ['id']"),
        ({"tenant_id": "globex"}, "unknown keys ['tenant_id']"),
    ],
)
def test_an_invalid_change_is_refused_naming_the_setting(stack, acme, body, message):
    answer = patch(stack, "acme", body)

    assert answer.status_code == 400
    assert message in answer.json()["error"]["message"]
    assert acme.get("/v1/config").json()["plan"] == "free"


def test_a_change_to_an_unknown_tenant_is_not_found(stack):
    assert patch(stack, "nobody", {"plan": "team"}).status_code == 404


def test_a_tenant_cannot_change_configuration_on_the_admin_surface(stack, acme):
    answer = acme.patch("/admin/tenants/acme", json={"plan": "enterprise"})

    assert answer.status_code == 404
    assert acme.get("/v1/config").json()["plan"] == "free"


def test_the_tenants_file_seeds_the_database_once(make_stack, repo):
    first = make_stack(tenants_file=repo / "stack/tenants.yaml")
    patch(first, "acme", {"plan": "enterprise"})

    again = make_stack(tenants_file=repo / "stack/tenants.yaml")

    acme = again.client.get("/admin/tenants/acme", headers=again.operator).json()
    assert acme["plan"] == "enterprise"  # the database wins over the file
    assert acme["timezone"] == "Europe/Berlin"
    created = [r for r in again.audit() if r["action"] == "create"]
    assert sorted((r["resource_id"], r["reason"]) for r in created) == [
        ("acme", "tenants_file"),
        ("globex", "tenants_file"),
        ("initech", "tenants_file"),
    ]
    keys = again.client.get("/admin/tenants/globex/keys", headers=again.operator)
    assert keys.json()["primary"].startswith("k_")


def test_the_daily_limit_follows_the_tenants_time_zone(stack, clock):
    clock.now = datetime(2026, 12, 3, 14, 30, tzinfo=UTC)  # 23:30 in Tokyo
    tokyo = stack.tenant(
        "tokyo", timezone="Asia/Tokyo", limits={"max_executions_per_day": 1}
    )
    utc = stack.tenant("utc", limits={"max_executions_per_day": 1})
    runs = {}
    for name, client in (("tokyo", tokyo), ("utc", utc)):
        agent = client.post("/v1/agents", json={"name": "a"}).json()["id"]
        runs[name] = lambda c=client, a=agent: c.post(
            f"/v1/agents/{a}/executions", json={"input": "x"}
        )
        assert runs[name]().status_code == 201

    blocked = runs["tokyo"]()
    assert (blocked.status_code, blocked.headers["Retry-After"]) == (429, "1800")
    clock.advance(minutes=31)  # a new day in Tokyo, not in UTC

    assert runs["tokyo"]().status_code == 201
    assert runs["utc"]().status_code == 429


def test_a_write_past_the_storage_quota_is_refused_and_audited(stack):
    acme = stack.tenant("acme", storage_quota_bytes=10)

    assert acme.put("/v1/files/a.txt", content=b"123456").status_code == 201
    over = acme.put("/v1/files/b.txt", content=b"123456")
    assert over.status_code == 429
    assert over.json()["error"]["code"] == "limit_exceeded"
    record = stack.audit(request_id=over.headers["X-Request-ID"])[-1]
    assert record["reason"] == "storage_quota_exceeded"
    assert acme.get("/v1/files/b.txt").status_code == 404
    assert acme.put("/v1/files/a.txt", content=b"1234567890").status_code == 201


def test_raising_the_quota_lets_the_write_through(stack):
    acme = stack.tenant("acme", storage_quota_bytes=4)
    assert acme.put("/v1/files/a.txt", content=b"123456").status_code == 429

    patch(stack, "acme", {"storage_quota_bytes": MIB})

    assert acme.put("/v1/files/a.txt", content=b"123456").status_code == 201
