"""`tenantguard selftest`: the harness proves its own power.

The whole catalogue runs against the correct reference stack and against
every deliberately vulnerable variant in `stack.variants.VARIANTS`, each in a
fresh stack, through `tenantguard run` in a subprocess (xdist inside). The
kill matrix says which scenarios caught which variant. The self-test passes
when every variant is caught and the correct stack yields no finding and no
error, in each of `--runs` consecutive runs.
"""

from __future__ import annotations

import json
import logging
import random
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("tenantguard.harness")

CORRECT = "correct"
RUN_TIMEOUT = 1800  # seconds for one catalogue run against one stack


@dataclass
class Outcome:
    """One catalogue run against one stack."""

    variant: str
    run: int
    seed: int
    seconds: float
    summary: dict[str, int] = field(default_factory=dict)
    caught_by: list[str] = field(default_factory=list)  # breached item names
    errors: list[str] = field(default_factory=list)
    problem: str = ""  # the run itself failed (no report)

    @property
    def verdict(self) -> str:
        if self.problem:
            return "FAILED TO RUN"
        if self.variant == CORRECT:
            return "clean" if not (self.caught_by or self.errors) else "FINDINGS"
        return "caught" if self.caught_by else "SURVIVED"

    @property
    def passed(self) -> bool:
        return self.verdict in ("clean", "caught") and not self.errors


def variant_names() -> list[str]:
    """The correct stack first, then every vulnerable variant the stack has."""
    from stack.variants import VARIANTS

    return [CORRECT, *sorted(name for name in VARIANTS if name != CORRECT)]


def run_command(
    variant: str, seed: int, report_dir: Path, options: Any, paths: Sequence[str]
) -> list[str]:
    command = [sys.executable, "-m", "harness.cli", "run", "--engine", options.engine]
    command += ["-n", str(options.workers), "--seed", str(seed)]
    command += ["--report-dir", str(report_dir)]
    if variant != CORRECT:
        command += ["--variant", variant]
    return command + list(paths)


def run_one(
    variant: str,
    run: int,
    seed: int,
    report_dir: Path,
    options: Any,
    paths: Sequence[str],
) -> Outcome:
    """The catalogue against one fresh stack; the outcome from its report."""
    report_dir.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    with open(report_dir / "output.txt", "wb") as output:
        done = subprocess.run(
            run_command(variant, seed, report_dir, options, paths),
            stdout=output,
            stderr=subprocess.STDOUT,
            timeout=RUN_TIMEOUT,
            check=False,
        )
    outcome = Outcome(variant, run, seed, round(time.monotonic() - began, 1))
    report_file = report_dir / "report.json"
    if not report_file.is_file():
        outcome.problem = (
            f"`tenantguard run` exited {done.returncode} without a report; "
            f"see {report_dir / 'output.txt'}"
        )
        return outcome
    return read_report(outcome, json.loads(report_file.read_text()))


def read_report(outcome: Outcome, report: dict[str, Any]) -> Outcome:
    outcome.summary = dict(report["summary"])
    for item in report["items"]:
        if item["outcome"] == "breach":
            outcome.caught_by.append(item["name"])
        elif item["outcome"] == "error":
            outcome.errors.append(item["name"])
    return outcome


def selftest(
    options: Any,
    paths: Sequence[str],
    *,
    runner: Callable[..., Outcome] = run_one,
    echo: Callable[[str], None] = print,
) -> int:
    """Every run, every variant; print the kill matrix; 0 when all passed."""
    variants = options.variants or variant_names()
    outcomes: list[Outcome] = []
    began = time.monotonic()
    for run in range(1, options.runs + 1):
        seed = options.seed if options.seed is not None else _fresh_seed()
        echo(f"selftest run {run} of {options.runs} (seed {seed})")
        for variant in variants:
            report_dir = options.report_dir / f"run-{run}" / variant
            outcome = runner(variant, run, seed, report_dir, options, paths)
            echo(f"  {variant:<34} {outcome.verdict:<8} {outcome.seconds:>7.1f}s")
            outcomes.append(outcome)
    elapsed = time.monotonic() - began
    for line in kill_matrix(outcomes, elapsed):
        echo(line)
    write_summary(options.report_dir / "selftest.json", outcomes, elapsed)
    return 0 if all(outcome.passed for outcome in outcomes) else 1


def _fresh_seed() -> int:
    return random.SystemRandom().randrange(2**32)


def kill_matrix(outcomes: list[Outcome], elapsed: float) -> list[str]:
    """Variant by run: who caught it (scenarios and item counts), or why not."""
    lines = ["", "kill matrix (variant: the scenarios that caught it)", ""]
    for variant in dict.fromkeys(outcome.variant for outcome in outcomes):
        mine = [outcome for outcome in outcomes if outcome.variant == variant]
        verdicts = " ".join(outcome.verdict for outcome in mine)
        lines.append(f"{variant}: {verdicts}")
        lines += [f"    {line}" for line in _detail(variant, mine)]
    runs = max((outcome.run for outcome in outcomes), default=0)
    failed = [o for o in outcomes if not o.passed]
    lines += [
        "",
        f"{len(outcomes)} catalogue runs ({runs} x {len(outcomes) // max(runs, 1)} "
        f"stacks) in {elapsed:.0f}s; "
        + (
            "every variant caught, no finding on correct"
            if not failed
            else f"{len(failed)} did not pass: "
            + ", ".join(f"{o.variant} (run {o.run}: {o.verdict})" for o in failed)
        ),
    ]
    return lines


def _detail(variant: str, mine: list[Outcome]) -> list[str]:
    lines = [outcome.problem for outcome in mine if outcome.problem]
    errored = sorted({name for outcome in mine for name in outcome.errors})
    if errored:
        lines.append(f"errors: {', '.join(errored)}")
    if variant == CORRECT:
        found = sorted({name for outcome in mine for name in outcome.caught_by})
        counts = mine[-1].summary
        lines.append(
            "no finding on correct" if not found else f"findings: {', '.join(found)}"
        )
        lines.append(", ".join(f"{n} {name}" for name, n in counts.items()))
        return lines
    by_scenario: dict[str, int] = {}
    for name in mine[-1].caught_by:
        scenario = name.split("[")[0]
        by_scenario[scenario] = by_scenario.get(scenario, 0) + 1
    steady = all(set(o.caught_by) == set(mine[0].caught_by) for o in mine)
    lines.append(
        f"{len(mine[-1].caught_by)} items in {len(by_scenario)} scenarios"
        + ("" if steady or len(mine) == 1 else " (the set changed between runs)")
    )
    lines += [
        f"{scenario} ({count})" for scenario, count in sorted(by_scenario.items())
    ]
    return lines


def write_summary(path: Path, outcomes: list[Outcome], elapsed: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "seconds": round(elapsed, 1),
        "passed": all(outcome.passed for outcome in outcomes),
        "outcomes": [
            {
                "variant": o.variant,
                "run": o.run,
                "seed": o.seed,
                "seconds": o.seconds,
                "verdict": o.verdict,
                "summary": o.summary,
                "caught_by": o.caught_by,
                "errors": o.errors,
                "problem": o.problem,
            }
            for o in outcomes
        ],
    }
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
