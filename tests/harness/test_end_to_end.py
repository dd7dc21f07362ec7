"""End to end: `tenantguard run` against the reference stack in a subprocess.
Every scenario passes (or, needing what the stack lacks, is skipped) against
the correct stack on OPA, and each deliberately vulnerable variant is caught
by the scenarios meant for it (embedded engine). `tenantguard selftest` runs
the whole catalogue against every variant (tests/harness/test_selftest.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# The scenarios that must catch each variant (run alone to keep this test quick;
# the full catalogue is run against the correct stack).
CATCHERS = {
    "agent_read_no_tenant_check": ["a01-read-foreign-object.yaml"],
    "forbidden_not_404": [
        "a01-read-foreign-object.yaml",
        "a13-modify-foreign-agent.yaml",
    ],
    "trust_tenant_header": ["d25-tenant-header-disagrees.yaml"],
    "unverified_jwt": ["d28-jwt-claims-tampering.yaml"],
    "alg_none_accepted": ["d27-jwt-alg-none.yaml"],
    "child_via_wrong_parent": ["a10-child-via-wrong-parent.yaml"],
    "credential_list_leak": ["a03-lists-never-show-foreign-objects.yaml"],
    "file_cross_tenant": ["a15-foreign-file-reference.yaml"],
}


# Scenarios needing what the reference stack lacks (a bulk endpoint, an export)
# are skipped with the reason; everything else passes.
OK = ("passed", "skipped")


def tenantguard_run(
    tmp_path: Path, *arguments: str, engine: str = "embedded"
) -> tuple[subprocess.CompletedProcess, dict]:
    report_dir = tmp_path / "report"
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--engine", engine, "-n", "2",
         "--report-dir", str(report_dir), *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )  # fmt: skip
    report_file = report_dir / "report.json"
    assert report_file.is_file(), done.stdout[-3000:] + done.stderr[-3000:]
    return done, json.loads(report_file.read_text())


def test_every_scenario_passes_against_the_correct_stack(tmp_path, opa_binary):
    # The whole catalogue (about 500 items) on real OPA, the faster engine.
    done, report = tenantguard_run(tmp_path, engine="opa")

    outcomes = {item["name"]: item["outcome"] for item in report["items"]}
    failed = [name for name, outcome in outcomes.items() if outcome not in OK]
    assert failed == [], done.stdout[-6000:]
    assert done.returncode == 0
    assert report["summary"]["passed"] >= 400
    skipped = [item for item in report["items"] if item["outcome"] == "skipped"]
    assert all("does not apply" in item["error"] for item in skipped)
    assert "tenantguard scenarios" in done.stdout
    for name in ("junit.xml", "report.sarif", "report.html"):
        assert (tmp_path / "report" / name).is_file()


@pytest.mark.parametrize("variant", sorted(CATCHERS))
def test_each_vulnerable_variant_is_caught(tmp_path, variant):
    paths = [f"scenarios/{name}" for name in CATCHERS[variant]]

    done, report = tenantguard_run(tmp_path, "--variant", variant, *paths)

    breaches = [item for item in report["items"] if item["outcome"] == "breach"]
    assert breaches, done.stdout[-6000:]
    assert done.returncode == 1
    assert "Traceback" not in done.stdout
    for item in breaches:
        assert item["findings"] and all(
            "curl -sS" in f["curl"] for f in item["findings"]
        )
    assert report["summary"]["error"] == 0, done.stdout[-6000:]
