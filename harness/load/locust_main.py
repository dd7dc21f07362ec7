"""`python -m harness.load.locust_main`: one Locust process of a load run.

Locust as a library, headless: `--role local` runs the users and writes the
reports, `--role master` only coordinates `--expect-workers` workers and
writes the reports, `--role worker` runs users for a master on loopback.
Every process that runs users writes its ledger (`ledger-<role>-<pid>.json`).
The run stops itself after `--run-time` seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import gevent
from locust import events
from locust.env import Environment
from locust.html import get_html_report
from locust.stats import (
    CSV_STATS_INTERVAL_SEC,
    PERCENTILES_TO_REPORT,
    StatsCSVFileWriter,
    stats_history,
)

from harness.load.plan import Plan
from harness.load.users import BurstGate, RunState, TenantRacer

WORKER_WAIT = 60.0  # seconds for the workers to report to the master


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m harness.load.locust_main")
    parser.add_argument("--role", choices=("local", "master", "worker"), required=True)
    parser.add_argument("--plan", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--spawn-rate", type=float, default=10.0)
    parser.add_argument("--run-time", type=float, default=10.0)
    parser.add_argument("--burst-interval", type=float, default=0.1)
    parser.add_argument("--master-port", type=int, default=5557)
    parser.add_argument("--expect-workers", type=int, default=1)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    options = parser().parse_args(argv)
    plan = Plan.read(options.plan)
    RunState.plan = plan
    environment = Environment(
        user_classes=[TenantRacer], host=plan.base_url, events=events
    )
    if options.role == "worker":
        return _work(environment, options)
    return _lead(environment, options)


def _work(environment: Environment, options) -> int:
    RunState.gate = BurstGate(options.burst_interval)
    runner = environment.create_worker_runner("127.0.0.1", options.master_port)
    runner.greenlet.join()
    _write_ledger(options.out, "worker")
    return 0


def _lead(environment: Environment, options) -> int:
    if options.role == "master":
        runner = environment.create_master_runner("127.0.0.1", options.master_port)
        _wait_for_workers(runner, options.expect_workers)
    else:
        RunState.gate = BurstGate(options.burst_interval)
        runner = environment.create_local_runner()
    writer = StatsCSVFileWriter(
        environment, PERCENTILES_TO_REPORT, str(options.out / "locust")
    )
    writing = gevent.spawn(writer)
    gevent.spawn(stats_history, runner)
    runner.start(options.users, spawn_rate=options.spawn_rate)
    gevent.spawn_later(options.run_time, runner.quit)
    runner.greenlet.join()
    gevent.sleep(CSV_STATS_INTERVAL_SEC + 0.2)  # one last snapshot of the stats
    writing.kill()
    _write_reports(environment, writer, options)
    return 0


def _wait_for_workers(runner, expected: int) -> None:
    with gevent.Timeout(WORKER_WAIT, False):
        while len(runner.clients.ready) < expected:
            gevent.sleep(0.1)
    if len(runner.clients.ready) < expected:
        print(f"locust master: only {len(runner.clients.ready)} of {expected} "
              "workers connected", file=sys.stderr)  # fmt: skip
        runner.quit()
        sys.exit(3)


def _write_reports(environment: Environment, writer, options) -> None:
    if RunState.gate is not None:
        RunState.gate.close()
        _write_ledger(options.out, "local")
    writer.close_files()
    html = get_html_report(environment, show_download_link=False)
    (options.out / "locust.html").write_text(html, encoding="utf-8")


def _write_ledger(out: Path, role: str) -> None:
    RunState.ledger.write(out / f"ledger-{role}-{os.getpid()}.json")


if __name__ == "__main__":
    sys.exit(main())
