"""The verifier: the stack's own counts against what the clients saw.

A tenant fails the run if the stack holds more of its work than its limit
allows (an over-admission, per local day for executions), if a client was
told 201 for something the stack does not hold (lost), if any answer was a
5xx or none at all, or if it was refused (429) in a period whose
authoritative count stayed under its limit (a noisy neighbour, or a slot
that leaked).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from harness.load.plan import Plan, PlannedTenant

COLUMNS = (
    ("tenant", "tenant"),
    ("timezone", "timezone"),
    ("limit", "execution_limit"),
    ("seen 201", "executions_seen"),
    ("in stack", "executions_in_stack"),
    ("agents", "agents_in_stack"),
    ("over", "over_admitted"),
    ("lost", "lost"),
    ("5xx", "server_errors"),
    ("no answer", "no_answer"),
    ("other", "unexpected"),
    ("429 under limit", "refused_under_limit"),
    ("counter drift", "counter_drift"),
)
FAILING = (
    "over_admitted",
    "lost",
    "server_errors",
    "no_answer",
    "unexpected",
    "refused_under_limit",
)


@dataclass(frozen=True)
class TenantCheck:
    tenant: str
    timezone: str
    execution_limit: int
    agent_limit: int
    requests: int
    executions_seen: int
    executions_in_stack: int
    agents_in_stack: int
    over_admitted: int
    lost: int
    server_errors: int
    no_answer: int
    unexpected: int
    refused_under_limit: int
    counter_drift: int  # counters against rows; shown, not failed on

    @property
    def failures(self) -> list[str]:
        return [name for name in FAILING if getattr(self, name)]


@dataclass(frozen=True)
class Verdict:
    checks: tuple[TenantCheck, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return bool(self.checks) and not any(check.failures for check in self.checks)

    @property
    def requests(self) -> int:
        return sum(check.requests for check in self.checks)

    def total(self, name: str) -> int:
        return sum(getattr(check, name) for check in self.checks)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        totals = {name: self.total(name) for name in FAILING}
        return {
            "ok": self.ok,
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "requests_per_second": round(self.rate, 1),
            "totals": totals,
            "tenants": [asdict(check) for check in self.checks],
        }


def verify(plan: Plan, ledger: dict[str, Any], usages: dict[str, dict]) -> Verdict:
    """Check every tenant of `plan` (`ledger`: harness.load.ledger.read_all)."""
    empty = {"statuses": {}, "admitted": {}, "refused": {}}
    checks = tuple(
        check_tenant(tenant, ledger["tenants"].get(tenant.id, empty), usages[tenant.id])
        for tenant in plan.tenants
    )
    first, last = ledger.get("first"), ledger.get("last")
    seconds = (last - first) if first is not None and last is not None else 0.0
    return Verdict(checks, seconds)


def check_tenant(tenant: PlannedTenant, tally: dict, usage: dict) -> TenantCheck:
    statuses = _statuses(tally["statuses"])
    days = usage["executions"]["days"]
    return TenantCheck(
        tenant=tenant.id,
        timezone=tenant.timezone,
        execution_limit=tenant.max_executions_per_day,
        agent_limit=tenant.max_agents,
        requests=sum(statuses.values()),
        executions_seen=statuses[("executions", 201)],
        executions_in_stack=len(usage["executions"]["ids"]),
        agents_in_stack=usage["agents"]["count"],
        over_admitted=_over_admitted(tenant, usage),
        lost=_lost(tally.get("admitted", {}), usage, statuses),
        server_errors=sum(n for (_, s), n in statuses.items() if s >= 500),
        no_answer=sum(n for (_, s), n in statuses.items() if s == 0),
        unexpected=sum(n for (_, s), n in statuses.items() if _unexpected(s)),
        refused_under_limit=_refused_under_limit(tenant, tally, usage),
        counter_drift=_drift(usage, days),
    )


def _statuses(raw: dict[str, int]) -> Counter:
    statuses: Counter = Counter()
    for key, count in raw.items():
        kind, status = key.rsplit(" ", 1)
        statuses[(kind, int(status))] += count
    return statuses


def _unexpected(status: int) -> bool:
    return 0 < status < 500 and status not in (201, 429)


def _over_admitted(tenant: PlannedTenant, usage: dict) -> int:
    days = usage["executions"]["days"].values()
    over = sum(max(0, day["count"] - tenant.max_executions_per_day) for day in days)
    return over + max(0, usage["agents"]["count"] - tenant.max_agents)


def _lost(admitted: dict[str, list[str]], usage: dict, statuses: Counter) -> int:
    """Admitted IDs the stack does not hold, and 201s that named no ID at all
    (nothing to look for is as bad as a missing row)."""
    held = set(usage["executions"]["ids"]) | set(usage["agents"]["ids"])
    named = [*admitted.get("executions", []), *admitted.get("agents", [])]
    unnamed = statuses[("executions", 201)] + statuses[("agents", 201)] - len(named)
    return len(set(named) - held) + max(0, unnamed)


def _refused_under_limit(tenant: PlannedTenant, tally: dict, usage: dict) -> int:
    refused = tally.get("refused", {})
    days = usage["executions"]["days"]
    under = sum(
        count
        for day, count in refused.get("executions", {}).items()
        if days.get(day, {}).get("count", 0) < tenant.max_executions_per_day
    )
    if usage["agents"]["count"] < tenant.max_agents:
        under += sum(refused.get("agents", {}).values())
    return under


def _drift(usage: dict, days: dict) -> int:
    drift = sum(abs((day["counter"] or 0) - day["count"]) for day in days.values())
    agents = usage["agents"]
    return drift + abs((agents["counter"] or 0) - agents["count"])


def table(verdict: Verdict) -> str:
    """The verifier's table: one row per tenant, a totals row, the verdict."""
    rows = [[str(getattr(c, name)) for _, name in COLUMNS] for c in verdict.checks]
    totals = ["total", "", ""] + [str(verdict.total(name)) for _, name in COLUMNS[3:]]
    header = [title for title, _ in COLUMNS]
    widths = [
        max(map(len, column)) for column in zip(header, *rows, totals, strict=True)
    ]
    lines = [_line(header, widths), _line(["-" * w for w in widths], widths)]
    lines += [_line(row, widths) for row in [*rows, totals]]
    return "\n".join(lines) + "\n" + summary(verdict)


def _line(cells: list[str], widths: list[int]) -> str:
    first = cells[0].ljust(widths[0]) + "  " + cells[1].ljust(widths[1])
    rest = "  ".join(
        cell.rjust(width) for cell, width in zip(cells[2:], widths[2:], strict=True)
    )
    return f"{first}  {rest}".rstrip()


def summary(verdict: Verdict) -> str:
    counts = ", ".join(
        f"{verdict.total(name)} {name.replace('_', ' ')}" for name in FAILING
    )
    outcome = "PASSED" if verdict.ok else "FAILED"
    return (
        f"load {outcome}: {len(verdict.checks)} tenants, {verdict.requests} requests "
        f"in {verdict.seconds:.1f} s ({verdict.rate:.1f} req/s); {counts}"
    )
