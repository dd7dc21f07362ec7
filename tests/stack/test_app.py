"""The app factory: independent apps, state kept across a restart."""

from __future__ import annotations

from enforcement import EngineError
from stack.app import publish_all
from tests.stack.fakes import FixedAnswerEngine, unreachable_engine


def test_two_apps_share_nothing(make_stack, tmp_path):
    first = make_stack()
    second = make_stack(storage_dir=tmp_path / "other", db_url="")

    first.create_tenant("acme")

    assert second.create_tenant("acme").status_code == 201


def test_tenant_configuration_survives_a_restart(make_stack):
    before = make_stack()
    before.tenant("acme", limits={"max_agents": 1, "max_executions_per_day": 1})

    after = make_stack()  # same database, a freshly built engine
    acme = after.tenant("acme")

    assert acme.post("/v1/agents", json={"name": "a"}).status_code == 201
    assert acme.post("/v1/agents", json={"name": "b"}).status_code == 429


def test_an_engine_refusing_the_tenant_means_no_tenant(make_stack):
    class RefusingEngine(FixedAnswerEngine):
        def put_data(self, path, value):
            raise EngineError("no")

    stack = make_stack(policy_engine=RefusingEngine(unreachable_engine().decision))

    assert stack.create_tenant("acme").status_code == 503
    assert stack.audit(tenant="acme") == []


class FlakyEngine(FixedAnswerEngine):
    """Refuses the first `failures` writes, as OPA does while it starts."""

    def __init__(self, failures: int) -> None:
        super().__init__(unreachable_engine().decision)
        self.failures = failures

    def put_data(self, path, value):
        if self.failures:
            self.failures -= 1
            raise EngineError("connection refused")
        super().put_data(path, value)


def test_publishing_waits_for_a_starting_engine():
    engine = FlakyEngine(failures=2)

    publish_all(engine, {"acme": {"plan": "a"}, "globex": {"plan": "b"}}, pause=0)

    assert engine.data == {
        "tenants/acme": {"plan": "a"},
        "tenants/globex": {"plan": "b"},
    }


def test_publishing_gives_up_after_its_attempts():
    engine = FlakyEngine(failures=10)

    publish_all(engine, {"acme": {"plan": "a"}}, attempts=3, pause=0)

    assert engine.data == {}


def test_the_openapi_document_lists_every_route_of_api_md(stack):
    paths = set(stack.client.get("/openapi.json").json()["paths"])

    assert paths == {
        "/health",
        "/admin/tenants",
        "/admin/tenants/{tenant_id}",
        "/admin/tenants/{tenant_id}/tokens",
        "/admin/tenants/{tenant_id}/usage",
        "/admin/tenants/{tenant_id}/keys",
        "/admin/tenants/{tenant_id}/keys/rotate",
        "/admin/tenants/{tenant_id}/keys/reencrypt",
        "/admin/audit",
        "/admin/audit/verify",
        "/admin/statements",
        "/v1/agents",
        "/v1/agents/{agent_id}",
        "/v1/agents/{agent_id}/executions",
        "/v1/agents/{agent_id}/executions/{execution_id}",
        "/v1/executions/{execution_id}",
        "/v1/credentials",
        "/v1/credentials/{credential_id}",
        "/v1/credentials/{credential_id}/verify",
        "/v1/files",
        "/v1/files/{name}",
        "/v1/archives/{name}",
        "/v1/archives/{name}/{member}",
        "/v1/config",
        "/v1/audit",
    }
