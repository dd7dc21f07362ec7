"""Decision latency, measured side by side in one run.

Four ways to get the same access decision, interleaved in small batches so
that machine noise falls on all of them alike:

  bare-post       a keep-alive requests.Session POST to OPA, nothing else
  OpaServer       tenantguard's client (shape checks, fail-closed handling)
  opa-client      opa-python-client's OpaClient.query_rule
  Embedded        regopy in-process, compiled bundle

    python3 benchmarks/decision.py [--rounds 40] [--batch 50]

Prints p50 and p99 in microseconds and each one's ratio to bare-post.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from enforcement import Embedded, OpaServer  # noqa: E402
from harness.services import OpaProcess  # noqa: E402

ENTRY_POINT = "tenantguard/access/decision"
INPUT = {
    "subject": {"tenant": "acme", "user": "u-1", "roles": ["member"]},
    "action": "read",
    "resource": {"type": "agent", "tenant": "acme", "id": "ag-1"},
}


def contenders(opa_url: str, data: dict) -> dict:
    from opa_client import OpaClient

    session = requests.Session()
    url = f"{opa_url}/v1/data/{ENTRY_POINT}"
    body = json.dumps({"input": INPUT})
    headers = {"Content-Type": "application/json"}
    server = OpaServer(opa_url)
    parts = urlsplit(opa_url)
    client = OpaClient(host=parts.hostname, port=parts.port, retries=0)
    embedded = Embedded(REPO / "policies", data)
    return {
        "bare-post": lambda: session.post(url, data=body, headers=headers).json(),
        "OpaServer": lambda: server.decide(ENTRY_POINT, INPUT),
        "opa-client": lambda: client.query_rule(
            INPUT, "tenantguard.access", "decision"
        ),
        "Embedded": lambda: embedded.decide(ENTRY_POINT, INPUT),
    }


def measure(calls: dict, rounds: int, batch: int) -> dict[str, list[float]]:
    samples = {name: [] for name in calls}
    for call in calls.values():  # warm connections, pools and caches
        for _ in range(20):
            call()
    for _ in range(rounds):
        for name, call in calls.items():
            for _ in range(batch):
                started = time.perf_counter()
                call()
                samples[name].append(time.perf_counter() - started)
    return samples


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def report(samples: dict[str, list[float]]) -> None:
    base50 = statistics.median(samples["bare-post"])
    base99 = percentile(samples["bare-post"], 0.99)
    print(
        f"{'engine':<12}{'n':>7}{'p50 µs':>10}{'p99 µs':>10}{'p50 ×bare':>11}{'p99 ×bare':>11}"
    )
    for name, values in samples.items():
        p50, p99 = statistics.median(values), percentile(values, 0.99)
        print(
            f"{name:<12}{len(values):>7}{p50 * 1e6:>10.0f}{p99 * 1e6:>10.0f}"
            f"{p50 / base50:>11.2f}{p99 / base99:>11.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()

    data_file = REPO / "stack" / "tenants.json"
    with OpaProcess(REPO / "policies", [data_file]) as opa:
        calls = contenders(opa.url, json.loads(data_file.read_text()))
        assert all(call() for call in calls.values())
        report(measure(calls, args.rounds, args.batch))


if __name__ == "__main__":
    main()
