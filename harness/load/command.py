"""`tenantguard load`: many tenants race for their quotas; the verifier decides.

    tenantguard load [--users 200] [--spawn-rate 50] [--duration 30]
                     [--tenants 12] [--api-workers 2] [--db sqlite|postgres|URL]
                     [--processes N] [--variant NAME] [--target PROFILE]

Without --target it starts the reference stack for the run (OPA, and a
throwaway PostgreSQL cluster with --db postgres), provisions fresh tenants
over the operator API, runs Locust headless in processes of its own (one
local runner, or a master and --processes workers), then reads every
tenant's counts from the stack. Reports: locust_stats.csv (and the other
Locust CSVs), locust.html, verify.txt and verify.json in --report-dir. The
exit code is the verifier's: 0 passed, 1 failed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from enforcement.errors import UsageError
from harness.load import ledger, plan, verify
from harness.services import free_port

REPO = Path(__file__).resolve().parents[2]
STARTUP_GRACE = 90  # seconds beyond --duration before a Locust process is killed

OPTIONS = (
    (
        ("--users",),
        dict(type=int, default=200, help="concurrent Locust users (default 200)"),
    ),
    (
        ("--spawn-rate",),
        dict(type=float, default=50.0, help="users started per second (default 50)"),
    ),
    (
        ("--duration",),
        dict(type=float, default=30.0, help="seconds of load (default 30)"),
    ),
    (("--tenants",), dict(type=int, default=12, help="tenants raced (default 12)")),
    (
        ("--burst-interval",),
        dict(type=float, default=0.1, help="seconds between bursts (default 0.1)"),
    ),
    (
        ("--processes",),
        dict(
            type=int,
            default=0,
            metavar="N",
            help="Locust distributed mode: a master and N workers (default 0: one local runner)",
        ),
    ),
    (
        ("--api-workers",),
        dict(
            type=int, default=2, help="uvicorn workers of the started stack (default 2)"
        ),
    ),
    (
        ("--db",),
        dict(
            default="sqlite",
            metavar="sqlite|postgres|URL",
            help="database of the started stack (postgres: a throwaway cluster)",
        ),
    ),
    (
        ("--engine",),
        dict(
            choices=("auto", "opa", "embedded"),
            default="auto",
            help="policy engine of the started stack (several API workers need OPA)",
        ),
    ),
    (
        ("--variant",),
        dict(
            metavar="NAME",
            help="start a deliberately vulnerable build, e.g. quota_read_then_write",
        ),
    ),
    (
        ("--target",),
        dict(
            metavar="PROFILE",
            help="load a running stack instead (its profile gives base_url and operator_key)",
        ),
    ),
    (
        ("--base-url",),
        dict(metavar="URL", help="base URL of the target (overrides the profile)"),
    ),
    (
        ("--report-dir",),
        dict(
            type=Path,
            default=Path("tenantguard-load"),
            help="where the reports go (default ./tenantguard-load)",
        ),
    ),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for flags, settings in OPTIONS:
        parser.add_argument(*flags, **settings)


def run(options: argparse.Namespace, echo=print) -> int:
    """The whole run; returns the verifier's exit code."""
    _check(options)
    report_dir = options.report_dir.resolve()
    report_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as started:
        base_url, operator_key, stack = _target(options, started, echo)
        if stack is not None:  # its warnings and tracebacks, for any 5xx
            started.callback(_keep_log, stack, report_dir / "stack.log")
        ttl = int(options.duration) + 3600
        planned = plan.provision(base_url, operator_key, options.tenants, ttl)
        echo(f"tenantguard load: {len(planned.tenants)} tenants, {options.users} users, "
             f"{options.duration:g} s, {_mode(options)}")  # fmt: skip
        _race(planned, options, report_dir)
        usages = {
            t.id: plan.read_usage(base_url, operator_key, t.id) for t in planned.tenants
        }
    return _report(planned, usages, report_dir, echo)


def _keep_log(stack, path: Path) -> None:
    path.write_text(stack.output(), encoding="utf-8")


def _check(options: argparse.Namespace) -> None:
    for name in ("users", "tenants", "duration", "spawn_rate"):
        if getattr(options, name) <= 0:
            raise UsageError(
                f"--{name.replace('_', '-')} must be positive, got {getattr(options, name)!r}"
            )
    if options.duration > 3600:
        raise UsageError(
            f"--duration {options.duration:g} is over an hour; a load run is bounded"
        )
    if options.processes < 0 or options.api_workers < 1:
        raise UsageError("--processes must be 0 or more and --api-workers 1 or more")


def _mode(options) -> str:
    if options.processes:
        return f"Locust master and {options.processes} workers"
    return "one Locust process"


def _target(options, started: contextlib.ExitStack, echo):
    """(base URL, operator key, the stack started for the run or None)."""
    if options.target or options.base_url:
        return (*_profile_target(options), None)
    from harness.stackproc import ReferenceStack

    workdir = Path(
        started.enter_context(tempfile.TemporaryDirectory(prefix="tenantguard-load-"))
    )
    db_url, owner_url = _database(options, started)
    stack = ReferenceStack(
        workdir / "stack", engine=options.engine, variant=options.variant,
        db_url=db_url, db_owner_url=owner_url, workers=options.api_workers,
    )  # fmt: skip
    started.enter_context(stack)
    echo(f"tenantguard load: {stack.describe()}, {options.api_workers} API workers, "
         f"database {options.db if options.db in ('sqlite', 'postgres') else 'from --db'}")  # fmt: skip
    return stack.url, stack.operator_key, stack


def _database(options, started: contextlib.ExitStack) -> tuple[str | None, str | None]:
    if options.db == "sqlite":
        return None, None
    if options.db != "postgres":
        return options.db, None
    from harness.services import PostgresCluster

    cluster = started.enter_context(PostgresCluster())
    owner_url, app_url = cluster.create_database("tenantguard_load", "tg_load_app")
    return app_url, owner_url


def _profile_target(options) -> tuple[str, str]:
    from harness import profile

    loaded = profile.load(profile.resolve(options.target or "reference"))
    base_url = options.base_url or loaded.base_url
    operator_key = loaded.variables.get("operator_key", "")
    if not base_url or not operator_key:
        raise UsageError(
            f"{loaded.path}: a load run needs base_url (or --base-url) and an "
            "operator_key variable (e.g. TENANTGUARD_OPERATOR_KEY)"
        )
    return base_url.rstrip("/"), operator_key


def _race(planned: plan.Plan, options, report_dir: Path) -> None:
    """The Locust processes, started together and bounded in time."""
    with tempfile.TemporaryDirectory(prefix="tenantguard-plan-") as scratch:
        plan_file = Path(scratch) / "plan.json"
        planned.write(plan_file)
        for old in report_dir.glob("ledger-*.json"):
            old.unlink()
        processes = [subprocess.Popen(command, cwd=REPO, env=_environment())
                     for command in _commands(plan_file, options, report_dir)]  # fmt: skip
        try:
            _wait_all(processes, options.duration + STARTUP_GRACE)
        finally:
            for process in processes:
                _stop(process)


def _commands(plan_file: Path, options, report_dir: Path) -> list[list[str]]:
    base = [sys.executable, "-m", "harness.load.locust_main", "--plan", str(plan_file),
            "--out", str(report_dir), "--burst-interval", str(options.burst_interval)]  # fmt: skip
    run = ["--users", str(options.users), "--spawn-rate", str(options.spawn_rate),
           "--run-time", str(options.duration)]  # fmt: skip
    if not options.processes:
        return [[*base, "--role", "local", *run]]
    port = ["--master-port", str(free_port())]
    master = [
        *base,
        "--role",
        "master",
        *run,
        *port,
        "--expect-workers",
        str(options.processes),
    ]
    return [master] + [[*base, "--role", "worker", *port]] * options.processes


def _environment() -> dict[str, str]:
    environment = dict(os.environ)
    paths = [str(REPO), environment.get("PYTHONPATH", "")]
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
    return environment


def _wait_all(processes: list[subprocess.Popen], timeout: float) -> None:
    for process in processes:
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise UsageError(
                f"a Locust process ran past {timeout:.0f} s; stopped"
            ) from None
        if code != 0:
            raise UsageError(
                f"a Locust process exited with {code}; see its output above"
            )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _report(planned: plan.Plan, usages: dict, report_dir: Path, echo) -> int:
    seen = ledger.read_all(report_dir)
    verdict = verify.verify(planned, seen, usages)
    text = verify.table(verdict)
    (report_dir / "verify.txt").write_text(text + "\n", encoding="utf-8")
    (report_dir / "verify.json").write_text(_json(verdict), encoding="utf-8")
    echo(text)
    echo(
        f"tenantguard load: reports in {report_dir} (locust_stats.csv, locust.html, verify.txt, verify.json)"
    )
    return 0 if verdict.ok else 1


def _json(verdict: verify.Verdict) -> str:
    import json

    return json.dumps(verdict.as_dict(), indent=2) + "\n"
