"""The whole scenario suite run against a started stack, for tests that
then read what the stack recorded (statements, audit records)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness.stackproc import ReferenceStack

REPO = Path(__file__).resolve().parent.parent


def run_suite(stack: ReferenceStack, report_dir: Path) -> dict:
    """`tenantguard run` of every scenario at `stack`; its report.json, or an
    assertion error with the run's output when any item did not pass."""
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--base-url", stack.url,
         "--target", "reference", "-n", "2", "--report-dir", str(report_dir)],
        cwd=REPO, env={**os.environ, **stack.harness_environment()},
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    return json.loads((report_dir / "report.json").read_text())
