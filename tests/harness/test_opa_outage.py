"""OPA stopped or killed under a running stack: no tenant resource is ever
answered with 2xx. Real processes throughout: OPA, the stack, HTTP."""

from __future__ import annotations

import pytest
import requests

from harness.stackproc import ReferenceStack


class Tenant:
    """A provisioned tenant with an admin token, talking to the stack over HTTP."""

    def __init__(self, stack: ReferenceStack, tenant_id: str):
        self.url, self.session = stack.url, requests.Session()
        operator = {"X-Operator-Key": stack.operator_key}
        created = requests.post(
            f"{self.url}/admin/tenants",
            json={"id": tenant_id},
            headers=operator,
            timeout=10,
        )
        assert created.status_code == 201, created.text
        token = requests.post(
            f"{self.url}/admin/tenants/{tenant_id}/tokens",
            json={"user": "u-1", "roles": ["admin"]},
            headers=operator,
            timeout=10,
        ).json()["token"]
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, f"{self.url}{path}", timeout=10, **kwargs)

    def plant(self) -> dict[str, str]:
        """One object of every kind; returns their IDs and names."""
        agent = self.call("POST", "/v1/agents", json={"name": "canary agent"}).json()[
            "id"
        ]
        execution = self.call(
            "POST", f"/v1/agents/{agent}/executions", json={"input": "x"}
        ).json()["id"]
        credential = self.call(
            "POST", "/v1/credentials", json={"name": "c", "secret": "s3cret"}
        ).json()["id"]
        assert (
            self.call("PUT", "/v1/files/canary.txt", data=b"canary").status_code == 201
        )
        return {"agent": agent, "execution": execution, "credential": credential}


def tenant_requests(ids: dict[str, str]) -> list[tuple[str, str, dict]]:
    agent, execution, credential = ids["agent"], ids["execution"], ids["credential"]
    return [
        ("GET", "/v1/agents", {}),
        ("GET", f"/v1/agents/{agent}", {}),
        ("PATCH", f"/v1/agents/{agent}", {"json": {"name": "x"}}),
        ("PUT", f"/v1/agents/{agent}", {"json": {"name": "x"}}),
        ("POST", "/v1/agents", {"json": {"name": "new"}}),
        ("POST", f"/v1/agents/{agent}/executions", {"json": {"input": "x"}}),
        ("GET", f"/v1/agents/{agent}/executions", {}),
        ("GET", f"/v1/agents/{agent}/executions/{execution}", {}),
        ("GET", f"/v1/executions/{execution}", {}),
        ("GET", "/v1/credentials", {}),
        ("GET", f"/v1/credentials/{credential}", {}),
        ("POST", "/v1/credentials", {"json": {"name": "n", "secret": "s"}}),
        ("GET", "/v1/files", {}),
        ("GET", "/v1/files/canary.txt", {}),
        ("PUT", "/v1/files/other.txt", {"data": b"x"}),
        ("GET", "/v1/config", {}),
        ("GET", "/v1/audit", {}),
        ("DELETE", f"/v1/credentials/{credential}", {}),
        ("DELETE", "/v1/files/canary.txt", {}),
        ("DELETE", f"/v1/agents/{agent}", {}),
    ]


@pytest.fixture
def stack_on_opa(opa_binary, tmp_path):
    with ReferenceStack(tmp_path, engine="opa") as stack:
        yield stack


def answered(owner: Tenant, other: Tenant, ids: dict[str, str]) -> list[str]:
    """Every tenant request, by the owner and by the other tenant: 'status method path'."""
    return [
        f"{caller.call(method, path, **kwargs).status_code} {method} {path}"
        for caller in (owner, other)
        for method, path, kwargs in tenant_requests(ids)
    ]


def test_while_opa_runs_the_owner_is_served(stack_on_opa):
    # The twin of the outage tests: the same requests succeed with OPA up.
    acme = Tenant(stack_on_opa, "acme")
    ids = acme.plant()
    statuses = [
        f"{acme.call(method, path, **kwargs).status_code} {method} {path}"
        for method, path, kwargs in tenant_requests(ids)
    ]
    assert [line for line in statuses if not line.startswith("2")] == []


@pytest.mark.parametrize("outage", ["stopped", "killed"])
def test_with_opa_down_no_tenant_resource_is_answered_2xx(stack_on_opa, outage):
    acme, globex = Tenant(stack_on_opa, "acme"), Tenant(stack_on_opa, "globex")
    ids = acme.plant()

    stack_on_opa.opa.stop() if outage == "stopped" else stack_on_opa.opa.kill()
    statuses = answered(acme, globex, ids)

    assert [line for line in statuses if line.startswith("2")] == []
    assert {line.split()[0] for line in statuses} == {"503"}
