"""`tenantguard policy check [POLICY_DIR]`: attack the tenant rules with
generated inputs and print the smallest input that breaks an invariant.

Exit status: 0 every invariant holds, 1 one or more is violated, 2 the check
could not run (a bad option or declaration, no OPA, an engine failure).

The top-level `tenantguard` parser wires it as a subcommand with
`add_arguments(subparser)` and `run(options)`; this module imports
hypothesis and the engines only when the check runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from enforcement import TenantGuardError

DEFAULT_WORKERS = min(os.cpu_count() or 1, 4)
DESCRIPTION = (
    "Attack the tenant rules with generated inputs (hypothesis) and print a "
    "minimal counterexample, as a Rego test and an `opa eval` command, for "
    "every isolation invariant they break."
)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tenantguard policy check", description=DESCRIPTION
    )
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `policy check`, on `parser` (a subparser of the CLI)."""
    parser.add_argument(
        "policy_dir",
        nargs="?",
        default="policies",
        type=Path,
        help="the policy directory, holding invariants.toml (default: policies)",
    )
    parser.add_argument(
        "--engine",
        choices=("opa", "embedded"),
        default="opa",
        help="a real OPA server started for the run, or embedded regopy (default: opa)",
    )
    parser.add_argument(
        "--examples",
        type=_positive,
        default=1000,
        metavar="N",
        help="generated inputs per invariant (default: 1000)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="hypothesis seed (default: 0)"
    )
    parser.add_argument(
        "--invariant",
        action="append",
        metavar="NAME",
        help="run only this invariant (repeatable; see policies/invariants.md)",
    )
    parser.add_argument(
        "--declaration",
        type=Path,
        metavar="FILE",
        help="the declaration file (default: POLICY_DIR/invariants.toml)",
    )
    parser.add_argument(
        "--workers",
        type=_positive,
        default=DEFAULT_WORKERS,
        metavar="N",
        help="run invariants in N processes sharing the engine "
        f"(default: {DEFAULT_WORKERS}: the CPUs, at most 4)",
    )
    parser.add_argument(
        "--write-tests",
        type=Path,
        metavar="FILE",
        help="also write every counterexample as a Rego test file",
    )


def main(argv: list[str] | None = None) -> int:
    return run(parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run the check the parsed options ask for; print the report."""
    from harness.invariants.runner import Checker, invariant_named

    try:
        checker = Checker(args.policy_dir, args.engine, examples=args.examples,
                          seed=args.seed, declaration=args.declaration)  # fmt: skip
        for name in args.invariant or ():
            invariant_named(name)
        print(_header(args), flush=True)
        with checker:
            report = checker.run_all(args.invariant, _print_line, args.workers)
    except (TenantGuardError, RuntimeError) as exc:
        print(f"tenantguard policy check: {exc}", file=sys.stderr)
        return 2

    _print_report(report, args.write_tests)
    return 0 if report.ok else 1


def _print_report(report, write_tests: Path | None) -> None:
    for outcome in report.outcomes:
        if not outcome.ok:
            print(f"\n{outcome.failure_text()}")
    print(f"\n{report.summary()}")
    if write_tests and report.counterexamples:
        write_tests.write_text(report.rego_tests(), encoding="utf-8")
        print(f"wrote {len(report.counterexamples)} Rego tests to {write_tests}")


def _header(args: argparse.Namespace) -> str:
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    return (
        f"tenantguard policy check {args.policy_dir}: engine {args.engine}, "
        f"{args.examples} inputs per invariant, seed {args.seed}, "
        f"{args.workers} worker(s) ({started})"
    )


def _print_line(outcome) -> None:
    print(outcome.line(), flush=True)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


if __name__ == "__main__":
    sys.exit(main())
