"""The Locust users of a load run. Imports locust: run only in its own process
(see harness.load.locust_main), never in pytest or the tenantguard CLI.

Each user belongs to one tenant of the plan (round robin) and, in a loop,
waits at the burst gate, then fires one request: an execution on the tenant's
first or second agent (two endpoints, one daily quota) or a new agent (the
agent quota). The gate releases every waiting user of the process in the
same instant, so each burst races for the tenant's last slots.
"""

from __future__ import annotations

import itertools
import time

import gevent
from gevent.event import Event
from locust import FastHttpUser, constant, task

from harness.load.ledger import Ledger
from harness.load.plan import Plan, PlannedTenant


class BurstGate:
    """Every `interval` seconds, releases all users waiting at it at once."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._open = Event()
        self._conductor = gevent.spawn(self._conduct)

    def wait(self) -> None:
        self._open.wait()

    def close(self) -> None:
        self._conductor.kill(block=False)
        self._open.set()

    def _conduct(self) -> None:
        while True:
            gevent.sleep(self.interval)
            released, self._open = self._open, Event()
            released.set()


class RunState:
    """The plan, ledger and gate the users of this process share."""

    plan: Plan | None = None
    ledger = Ledger()
    gate: BurstGate | None = None
    _next = itertools.count()

    @classmethod
    def next_tenant(cls, offset: int) -> PlannedTenant:
        tenants = cls.plan.tenants
        return tenants[(next(cls._next) + offset) % len(tenants)]


class TenantRacer(FastHttpUser):
    wait_time = constant(0)
    network_timeout = 60.0
    connection_timeout = 60.0

    def on_start(self) -> None:
        offset = getattr(self.environment.runner, "worker_index", 0) * 5
        self.tenant = RunState.next_tenant(offset)
        self.auth = {"Authorization": f"Bearer {self.tenant.token}"}

    @task(6)
    def execute_on_first_agent(self) -> None:
        self._execute(self.tenant.agents[0])

    @task(3)
    def execute_on_second_agent(self) -> None:
        self._execute(self.tenant.agents[1])

    @task(1)
    def create_agent(self) -> None:
        self._send("agents", "/v1/agents", {"name": "raced"}, "POST /v1/agents")

    def _execute(self, agent_id: str) -> None:
        path = f"/v1/agents/{agent_id}/executions"
        name = f"POST /v1/agents/[agent {self.tenant.agents.index(agent_id) + 1}]/executions"
        self._send("executions", path, {"input": "load"}, name)

    def _send(self, kind: str, path: str, body: dict, name: str) -> None:
        RunState.gate.wait()
        with self.client.post(
            path, json=body, headers=self.auth, name=name, catch_response=True
        ) as answer:
            status = answer.status_code or 0
            RunState.ledger.note(
                self.tenant.id, self.tenant.timezone, kind, status, now=time.time(),
                body_id=_id(answer), retry_after=answer.headers.get("Retry-After"),
            )  # fmt: skip
            if status in (201, 429):
                answer.success()
            else:
                answer.failure(f"status {status}")


def _id(answer) -> str | None:
    if answer.status_code != 201:
        return None
    try:
        return answer.json().get("id")
    except ValueError:
        return None
