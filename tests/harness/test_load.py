"""`tenantguard load`: the verifier on hand-written ledgers, and short real
runs (Locust in subprocesses, loopback only) that pass on the correct stack
and fail on the read-then-write quota variant."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness.load import ledger, verify
from harness.load.plan import Plan, PlannedTenant, tenant_settings

REPO = Path(__file__).resolve().parents[2]
DAY = "2026-12-04"
TIGHT = PlannedTenant("tight", "t", "UTC", 3, 2, ("ag_1", "ag_2"))


def usage(executions: list[str], agents=("ag_1", "ag_2"), counter=None) -> dict:
    count = len(executions)
    return {
        "agents": {"count": len(agents), "counter": len(agents), "ids": list(agents)},
        "executions": {
            "days": {DAY: {"count": count, "counter": counter or count}},
            "ids": executions,
        },
    }


def tally(statuses: dict, admitted=(), refused: int = 0) -> dict:
    return {
        "statuses": statuses,
        "admitted": {"executions": list(admitted), "agents": []},
        "refused": {"executions": {DAY: refused}} if refused else {},
    }


def check(seen: dict, held: dict) -> verify.TenantCheck:
    return verify.check_tenant(TIGHT, seen, held)


# -- the verifier ----------------------------------------------------------


def test_work_within_the_limit_passes():
    seen = tally({"executions 201": 2, "executions 429": 5}, ["ex_1", "ex_2"], 5)

    assert check(seen, usage(["ex_1", "ex_2"])).failures == []


def test_more_rows_than_the_limit_is_an_over_admission():
    seen = tally({"executions 201": 3}, ["ex_1", "ex_2", "ex_3"])

    result = check(seen, usage(["ex_1", "ex_2", "ex_3"], counter=2))

    assert (result.failures, result.over_admitted, result.counter_drift) == (
        ["over_admitted"],
        1,
        1,
    )


def test_an_admitted_execution_the_stack_does_not_hold_is_lost():
    seen = tally({"executions 201": 2}, ["ex_1", "ex_gone"])

    result = check(seen, usage(["ex_1"]))

    assert (result.failures, result.lost) == (["lost"], 1)


def test_a_201_that_names_no_id_counts_as_lost():
    seen = tally({"executions 201": 2}, ["ex_1"])

    assert check(seen, usage(["ex_1"])).lost == 1


def test_every_5xx_and_every_missing_answer_fails():
    seen = tally({"executions 201": 1, "executions 503": 2, "agents 0": 1}, ["ex_1"])

    result = check(seen, usage(["ex_1"]))

    assert result.failures == ["server_errors", "no_answer"]
    assert (result.server_errors, result.no_answer) == (2, 1)


def test_a_429_under_the_limit_is_a_noisy_neighbour():
    seen = tally({"executions 201": 1, "executions 429": 4}, ["ex_1"], refused=4)

    result = check(seen, usage(["ex_1"]))

    assert (result.failures, result.refused_under_limit) == (
        ["refused_under_limit"],
        4,
    )


def test_a_429_at_the_limit_is_no_noisy_neighbour():
    seen = tally({"executions 201": 2, "executions 429": 4}, ["ex_1", "ex_2"], 4)

    assert check(seen, usage(["ex_1", "ex_2"])).refused_under_limit == 0


def test_a_verdict_without_tenants_is_no_pass():
    assert not verify.Verdict((), 0.0).ok


def test_the_table_ends_with_the_verdict_and_the_rate():
    plan = Plan("http://127.0.0.1:1", (TIGHT,))
    seen = {
        "first": 10.0,
        "last": 12.0,
        "tenants": {"tight": tally({"executions 201": 4}, "abcd")},
    }

    verdict = verify.verify(plan, seen, {"tight": usage(["a", "b", "c", "d"])})

    assert verify.table(verdict).splitlines()[-1] == (
        "load FAILED: 1 tenants, 4 requests in 2.0 s (2.0 req/s); 2 over admitted, "
        "0 lost, 0 server errors, 0 no answer, 0 unexpected, 0 refused under limit"
    )


def test_ledgers_of_several_processes_merge(tmp_path):
    for pid, (first, ids) in enumerate([(5.0, ["ex_1"]), (3.0, ["ex_2"])]):
        document = {"first": first, "last": first + 1, "tenants": {"tight": tally(
            {"executions 201": 1}, ids)}}  # fmt: skip
        (tmp_path / f"ledger-worker-{pid}.json").write_text(json.dumps(document))

    merged = ledger.read_all(tmp_path)

    assert (merged["first"], merged["last"], merged["files"]) == (3.0, 6.0, 2)
    assert merged["tenants"]["tight"]["statuses"] == {"executions 201": 2}
    assert sorted(merged["tenants"]["tight"]["admitted"]["executions"]) == [
        "ex_1",
        "ex_2",
    ]


JUST_AFTER_MIDNIGHT = datetime(2026, 12, 5, 0, 0, 0, 200_000, tzinfo=UTC).timestamp()


def refused_days(tmp_path, zone: str, kind: str, retry_after: str | None) -> set:
    book = ledger.Ledger()
    book.note(
        "tight", zone, kind, 429, now=JUST_AFTER_MIDNIGHT, retry_after=retry_after
    )
    book.write(tmp_path / "ledger-local-1.json")
    return set(ledger.read_all(tmp_path)["tenants"]["tight"]["refused"][kind])


def test_a_refusal_read_after_midnight_counts_for_the_day_it_was_refused(tmp_path):
    # Refused at 23:59:59.x (Retry-After: 1), the answer read just after 00:00.
    assert refused_days(tmp_path, "UTC", "executions", "1") == {"2026-12-04"}


def test_a_refusal_after_midnight_counts_for_the_new_day(tmp_path):
    assert refused_days(tmp_path, "UTC", "executions", "86400") == {"2026-12-05"}


def test_refusals_count_on_the_tenants_own_day(tmp_path):
    # 00:00 UTC is 13:00 in Auckland, already 5 December there.
    assert refused_days(tmp_path, "Pacific/Auckland", "executions", "39600") == {
        "2026-12-05"
    }


def test_agent_refusals_have_the_standing_period(tmp_path):
    assert refused_days(tmp_path, "UTC", "agents", "60") == {""}


def test_every_fourth_tenant_is_roomy_and_the_others_tight():
    settings = tenant_settings(8, "run")

    roomy = [s["limits"]["max_executions_per_day"] >= 1_000_000 for s in settings]

    assert roomy == [False, False, False, True] * 2
    assert len({s["timezone"] for s in settings}) == 8


def test_planning_a_run_never_imports_locust():
    # Importing locust patches the standard library with gevent; the pytest
    # and CLI processes must never do it.
    code = (
        "import sys, harness.cli, harness.load.command; print('locust' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True
    )

    assert done.stdout.strip() == "False", done.stderr


# -- real runs -----------------------------------------------------------------


def load(tmp_path: Path, *arguments: str) -> tuple[int, dict, str]:
    report_dir = tmp_path / "report"
    command = [sys.executable, "-m", "harness.cli", "load", "--report-dir",
               str(report_dir), "--spawn-rate", "40", *arguments]  # fmt: skip
    done = subprocess.run(
        command, cwd=REPO, env=dict(os.environ), capture_output=True, text=True,
        timeout=240, check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    verdict = report_dir / "verify.json"
    return (
        done.returncode,
        json.loads(verdict.read_text()) if verdict.exists() else {},
        output,
    )


# The same short run twice: four tenants, 24 users for 6 s, the stack on
# PostgreSQL with two API workers, Locust as a master and two workers.
RUN = ("--users", "24", "--duration", "6", "--tenants", "4", "--db", "postgres",
       "--api-workers", "2", "--processes", "2")  # fmt: skip


@pytest.mark.postgres
@pytest.mark.opa
def test_a_short_run_on_the_correct_stack_passes(opa_binary, tmp_path):
    code, verdict, output = load(tmp_path, *RUN)

    assert code == 0, output[-3000:]
    assert verdict["ok"] and verdict["requests"] > 0
    assert len(list((tmp_path / "report").glob("ledger-worker-*.json"))) == 2
    assert (tmp_path / "report" / "locust_stats.csv").read_text().count("\n") > 2
    assert "<html" in (tmp_path / "report" / "locust.html").read_text()[:500].lower()


@pytest.mark.postgres
@pytest.mark.opa
def test_the_same_run_fails_on_a_read_then_write_counter(opa_binary, tmp_path):
    code, verdict, output = load(tmp_path, *RUN, "--variant", "quota_read_then_write")

    assert code == 1, output[-3000:]
    assert verdict["totals"]["over_admitted"] > 0
    assert "load FAILED" in output


def test_a_bad_option_is_a_usage_error(tmp_path):
    code, _, output = load(tmp_path, "--users", "0")

    assert code == 4
    assert "--users must be positive, got 0" in output
