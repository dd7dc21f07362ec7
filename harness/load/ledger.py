"""What the clients of one Locust process saw, per tenant, written as JSON.

Kept apart from the Locust users so that the verifier (and its tests) read
it without importing locust.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from enforcement.quota import STANDING, tenant_day


@dataclass
class TenantTally:
    """One tenant's answers: admitted IDs, refusals per local day, failures."""

    statuses: Counter = field(default_factory=Counter)
    admitted: dict[str, list[str]] = field(
        default_factory=lambda: {"agents": [], "executions": []}
    )
    refused: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))

    def as_dict(self) -> dict[str, Any]:
        return {
            "statuses": dict(self.statuses),
            "admitted": self.admitted,
            "refused": {kind: dict(days) for kind, days in self.refused.items()},
        }


@dataclass
class Ledger:
    tenants: dict[str, TenantTally] = field(
        default_factory=lambda: defaultdict(TenantTally)
    )
    first: float | None = None
    last: float | None = None

    def note(
        self, tenant_id: str, zone: str, kind: str, status: int, *, now: float,
        body_id: str | None = None, retry_after: str | None = None,
    ) -> None:  # fmt: skip
        """One answer, read at `now` (a Unix time): `kind` is "agents" or
        "executions", status 0 means no answer at all."""
        moment = now
        self.first = self.first if self.first is not None else moment
        self.last = moment
        tally = self.tenants[tenant_id]
        tally.statuses[f"{kind} {status}"] += 1
        if 200 <= status < 300 and body_id:
            tally.admitted[kind].append(body_id)
        elif status == 429:
            tally.refused[kind][_period(kind, zone, moment, retry_after)] += 1

    def write(self, path: Path) -> None:
        document = {
            "first": self.first,
            "last": self.last,
            "tenants": {tid: tally.as_dict() for tid, tally in self.tenants.items()},
        }
        Path(path).write_text(json.dumps(document), encoding="utf-8")


def _period(kind: str, zone: str, moment: float, retry_after: str | None) -> str:
    """The period the stack refused in. For a daily limit, Retry-After points
    at the stack's next midnight; three hours before it is surely the refused
    day, even when the answer crossed midnight on its way back."""
    if kind == "agents":
        return STANDING
    if retry_after and retry_after.isdigit():
        moment += int(retry_after) - 3 * 3600
    return tenant_day(datetime.fromtimestamp(moment, UTC), ZoneInfo(zone))


def read_all(directory: Path) -> dict[str, Any]:
    """Every ledger in `directory`, merged: one tally per tenant, and the
    span from the first answer to the last."""
    merged: dict[str, Any] = {"first": None, "last": None, "tenants": {}, "files": 0}
    for path in sorted(Path(directory).glob("ledger-*.json")):
        _merge(merged, json.loads(path.read_text(encoding="utf-8")))
        merged["files"] += 1
    return merged


def _merge(merged: dict[str, Any], ledger: dict[str, Any]) -> None:
    for bound, pick in (("first", min), ("last", max)):
        values = [v for v in (merged[bound], ledger[bound]) if v is not None]
        merged[bound] = pick(values) if values else None
    for tenant_id, tally in ledger["tenants"].items():
        into = merged["tenants"].setdefault(
            tenant_id,
            {"statuses": Counter(), "admitted": defaultdict(list), "refused": {}},
        )
        into["statuses"].update(tally["statuses"])
        for kind, ids in tally["admitted"].items():
            into["admitted"][kind].extend(ids)
        for kind, days in tally["refused"].items():
            into["refused"].setdefault(kind, Counter()).update(days)
