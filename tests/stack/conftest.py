"""Fixtures for the stack's tests: apps built by the factory, on the real
policies (Embedded), a pinned clock, and tenants provisioned through the API."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stack import Settings, create_app

OPERATOR_KEY = "operator-key-for-tests"
JWT_SECRET = "jwt-secret-for-tests-" + "0123456789abcdef" * 3  # 69 bytes: HS512 too
KEK = bytes(range(32))
START = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


class FixedClock:
    """The time the stack reads: it moves only when a test moves it."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class TenantClient:
    """One tenant's user: every request carries its bearer token."""

    def __init__(self, client: TestClient, tenant_id: str, token: str) -> None:
        self.client, self.tenant_id, self.token = client, tenant_id, token

    def request(self, method: str, path: str, **kwargs: Any):
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any):
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any):
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any):
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any):
        return self.request("DELETE", path, **kwargs)


class Stack:
    """A running stack, seen by its operator."""

    def __init__(self, client: TestClient, settings: Settings) -> None:
        self.client, self.settings = client, settings
        self.operator = {"X-Operator-Key": settings.operator_key}

    def create_tenant(self, tenant_id: str, **config: Any):
        body = {"id": tenant_id, **config}
        return self.client.post("/admin/tenants", json=body, headers=self.operator)

    def token(
        self, tenant_id: str, roles=("admin",), user: str = "u-1", ttl: int = 3600
    ) -> str:
        body = {"user": user, "roles": list(roles), "ttl_seconds": ttl}
        path = f"/admin/tenants/{tenant_id}/tokens"
        response = self.client.post(path, json=body, headers=self.operator)
        assert response.status_code == 201, response.text
        return response.json()["token"]

    def tenant(
        self, tenant_id: str, roles=("admin",), *, ttl: int = 3600, **config: Any
    ) -> TenantClient:
        """Create `tenant_id` (if new) and return a user of it holding `roles`."""
        created = self.create_tenant(tenant_id, **config)
        assert created.status_code in (201, 409), created.text
        return TenantClient(
            self.client, tenant_id, self.token(tenant_id, roles, ttl=ttl)
        )

    def audit(self, **filters: Any) -> list[dict[str, Any]]:
        response = self.client.get(
            "/admin/audit", params=filters, headers=self.operator
        )
        assert response.status_code == 200, response.text
        return response.json()["records"]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        storage_dir=tmp_path,
        operator_key=OPERATOR_KEY,
        jwt_secret=JWT_SECRET,
        key_encryption_key=KEK,
    )


@pytest.fixture
def make_stack(settings: Settings, clock: FixedClock) -> Iterator:
    clients: list[TestClient] = []

    def make(
        *, policy_engine=None, raise_server_exceptions: bool = True, **overrides: Any
    ) -> Stack:
        configured = replace(settings, **overrides)
        app = create_app(configured, engine=policy_engine, clock=clock)
        client = TestClient(app, raise_server_exceptions=raise_server_exceptions)
        clients.append(client.__enter__())
        return Stack(client, configured)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def stack(make_stack) -> Stack:
    return make_stack()


@pytest.fixture
def acme(stack: Stack) -> TenantClient:
    return stack.tenant("acme")


@pytest.fixture
def globex(stack: Stack) -> TenantClient:
    return stack.tenant("globex")
