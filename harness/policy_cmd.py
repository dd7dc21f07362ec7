"""`tenantguard policy ...`: the checks a Rego author runs, and tenant data.

tenantguard policy test [POLICY_DIR]   opa check --strict, opa fmt, opa test
                                       with coverage, regal lint
tenantguard policy data FILE           the OPA data document for a tenant
                                       configuration file, on stdout
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from enforcement import tenant_config
from harness import tools

COVERAGE_THRESHOLD = 95


def policy_checks(
    opa: Path, regal: Path, policy_dir: Path
) -> list[tuple[str, list[str]]]:
    directory = str(policy_dir)
    return [
        ("opa check --strict", [str(opa), "check", "--strict", directory]),
        ("opa fmt --list", [str(opa), "fmt", "--list", "--fail", directory]),
        (
            f"opa test --coverage --threshold {COVERAGE_THRESHOLD}",
            [
                str(opa),
                "test",
                "--coverage",
                "--threshold",
                str(COVERAGE_THRESHOLD),
                directory,
            ],
        ),
        ("regal lint", [str(regal), "lint", directory]),
    ]


def run_policy_tests(policy_dir: Path) -> int:
    """Run every check; print one line each; exit status 1 if any failed."""
    binaries = {name: tools.find(name) for name in ("opa", "regal")}
    for name, binary in binaries.items():
        if binary is None:
            print(tools.missing_help(tools.TOOLS[name]), file=sys.stderr)
            return 2
    failed = 0
    for title, command in policy_checks(binaries["opa"], binaries["regal"], policy_dir):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        print(
            f"{'ok  ' if done.returncode == 0 else 'FAIL'} {title}{_coverage(title, done.stdout)}"
        )
        if done.returncode != 0:
            failed += 1
            print(_tail(done.stdout + done.stderr), file=sys.stderr)
    return 1 if failed else 0


def _coverage(title: str, stdout: str) -> str:
    if not title.startswith("opa test"):
        return ""
    try:
        return f" ({json.loads(stdout)['coverage']:.1f} % covered)"
    except (ValueError, KeyError):
        return ""


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def print_data_document(config_file: Path) -> int:
    document = tenant_config.data_document(tenant_config.load(config_file))
    json.dump(document, sys.stdout, indent=2)
    print()
    return 0
