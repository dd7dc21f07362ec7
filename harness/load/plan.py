"""The tenants a load run races, provisioned before Locust starts.

Most tenants are "tight": limits low enough that the run reaches them and
the users race for the last slots. Every fourth is "roomy": limits the run
cannot reach, so any 429 it gets is a neighbour's exhaustion leaking into it.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import requests

from harness.errors import TargetError

ZONES = (
    "UTC",
    "Europe/Berlin",
    "Asia/Tokyo",
    "America/New_York",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/Havana",
    "Australia/Lord_Howe",
)
ROOMY = 1_000_000
AGENTS_PER_TENANT = 2  # two execution endpoints per tenant race for one quota
TIMEOUT = 30.0


@dataclass(frozen=True)
class PlannedTenant:
    id: str
    token: str
    timezone: str
    max_agents: int
    max_executions_per_day: int
    agents: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"PlannedTenant({self.id!r}, token=[secure])"

    @property
    def roomy(self) -> bool:
        return self.max_executions_per_day >= ROOMY


@dataclass(frozen=True)
class Plan:
    base_url: str
    tenants: tuple[PlannedTenant, ...]

    def write(self, path: Path) -> None:
        document = {
            "base_url": self.base_url,
            "tenants": [asdict(t) for t in self.tenants],
        }
        path.write_text(json.dumps(document), encoding="utf-8")
        path.chmod(0o600)  # it holds bearer tokens

    @classmethod
    def read(cls, path: Path) -> Plan:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        tenants = [_tenant(raw) for raw in document["tenants"]]
        return cls(document["base_url"], tuple(tenants))


def _tenant(raw: dict[str, Any]) -> PlannedTenant:
    return PlannedTenant(**{**raw, "agents": tuple(raw["agents"])})


def tenant_settings(count: int, run_id: str) -> list[dict[str, Any]]:
    """`count` tenants' settings: tight limits spread out, every fourth roomy."""
    settings = []
    for index in range(count):
        roomy = index % 4 == 3
        executions = ROOMY if roomy else 20 + 15 * index
        agents = ROOMY if roomy else AGENTS_PER_TENANT + 3
        settings.append(
            {
                "id": f"load-{run_id}-{index:02d}",
                "plan": "team",
                "timezone": ZONES[index % len(ZONES)],
                "limits": {"max_agents": agents, "max_executions_per_day": executions},
            }
        )
    return settings


def provision(base_url: str, operator_key: str, count: int, ttl: int) -> Plan:
    """Create `count` fresh tenants, a token and two agents each."""
    run_id = secrets.token_hex(3)
    with requests.Session() as http:
        http.headers["X-Operator-Key"] = operator_key
        tenants = [
            _provision_one(http, base_url, settings, ttl)
            for settings in tenant_settings(count, run_id)
        ]
    return Plan(base_url, tuple(tenants))


def _provision_one(http, base_url: str, settings: dict, ttl: int) -> PlannedTenant:
    tenant_id = settings["id"]
    _expect(http.post(f"{base_url}/admin/tenants", json=settings, timeout=TIMEOUT), 201)
    body = {"user": "load", "roles": ["admin"], "ttl_seconds": ttl}
    path = f"{base_url}/admin/tenants/{tenant_id}/tokens"
    token = _expect(http.post(path, json=body, timeout=TIMEOUT), 201)["token"]
    agents = tuple(_agent(base_url, token, n) for n in range(AGENTS_PER_TENANT))
    limits = settings["limits"]
    return PlannedTenant(
        tenant_id, token, settings["timezone"], limits["max_agents"],
        limits["max_executions_per_day"], agents,
    )  # fmt: skip


def _agent(base_url: str, token: str, number: int) -> str:
    headers = {"Authorization": f"Bearer {token}"}
    body = {"name": f"load agent {number}"}
    answer = requests.post(
        f"{base_url}/v1/agents", json=body, headers=headers, timeout=TIMEOUT
    )
    return _expect(answer, 201)["id"]


def _expect(answer: requests.Response, status: int) -> dict[str, Any]:
    if answer.status_code != status:
        raise TargetError(
            f"{answer.request.method} {answer.url} answered {answer.status_code}, "
            f"expected {status}: {answer.text[:300]!r}"
        )
    return answer.json()


def read_usage(base_url: str, operator_key: str, tenant_id: str) -> dict[str, Any]:
    """The stack's authoritative usage of one tenant (GET .../usage)."""
    answer = requests.get(
        f"{base_url}/admin/tenants/{tenant_id}/usage",
        headers={"X-Operator-Key": operator_key},
        timeout=TIMEOUT,
    )
    return _expect(answer, 200)
