"""Flipping one tenant's feature flag changes that tenant's behaviour only, and
the decision is OPA's: the new configuration is written through OPA's Data
API and `tenantguard/features/decision` is evaluated by the OPA server."""

from __future__ import annotations

import secrets

import pytest
import requests

from enforcement import OpaServer

FEATURES = "tenantguard/features/decision"
FLAGS = {"web_browsing": False, "code_interpreter": True}


class Recording:
    """The real OPA client, remembering each features decision it returned."""

    def __init__(self, engine: OpaServer) -> None:
        self.engine = engine
        self.features: list[tuple[str, str, bool]] = []

    def decide(self, entry_point, input):
        decision = self.engine.decide(entry_point, input)
        if entry_point == FEATURES:
            tenant = input["subject"]["tenant"]
            self.features.append((tenant, input["feature"], decision.allow))
        return decision

    def put_data(self, path, value):
        self.engine.put_data(path, value)

    def close(self):
        self.engine.close()


@pytest.fixture
def opa_stack(make_stack, opa_server):
    engine = Recording(OpaServer(opa_server.url))
    yield make_stack(policy_engine=engine), engine, opa_server
    engine.close()


def runner(client):
    agent = client.post("/v1/agents", json={"name": "agent"}).json()["id"]

    def run(*tools: str) -> int:
        body = {"input": "search the web", "tools": list(tools)}
        return client.post(f"/v1/agents/{agent}/executions", json=body).status_code

    return run


def opa_flags(opa_server, tenant: str) -> dict:
    answer = requests.get(f"{opa_server.url}/v1/data/tenants/{tenant}", timeout=5)
    return answer.json()["result"]["features"]


@pytest.mark.opa
def test_flipping_one_tenants_flag_changes_that_tenant_only_decided_by_opa(opa_stack):
    stack, engine, opa = opa_stack
    # The OPA server is shared by the session: never reuse a tenant ID.
    one, other = (f"flags-{name}-{secrets.token_hex(4)}" for name in ("a", "b"))
    run_one = runner(stack.tenant(one, features=FLAGS))
    run_other = runner(stack.tenant(other, features=FLAGS))
    assert (run_one("web_browsing"), run_other("web_browsing")) == (403, 403)

    flipped = stack.client.patch(
        f"/admin/tenants/{one}",
        json={"features": {"web_browsing": True}},
        headers=stack.operator,
    )

    assert flipped.status_code == 200, flipped.text
    assert opa_flags(opa, one) == {"web_browsing": True, "code_interpreter": True}
    assert opa_flags(opa, other) == FLAGS
    engine.features.clear()
    assert run_one("web_browsing") == 201
    assert run_other("web_browsing") == 403
    assert (run_one("code_interpreter"), run_other("code_interpreter")) == (201, 201)
    assert (run_one(), run_other()) == (201, 201)
    assert engine.features == [  # each answer came from the OPA server
        (one, "web_browsing", True),
        (other, "web_browsing", False),
        (one, "code_interpreter", True),
        (other, "code_interpreter", True),
    ]

    stack.client.patch(
        f"/admin/tenants/{one}",
        json={"features": {"web_browsing": False}},
        headers=stack.operator,
    )
    assert (run_one("web_browsing"), run_other("web_browsing")) == (403, 403)
    changes = [
        (r["target_tenant"], r["detail"])
        for r in stack.audit()
        if r["event"] == "config_change"
    ]
    assert [tenant for tenant, _ in changes] == [one, one]
    assert '"features.web_browsing":[false,true]' in changes[0][1]
