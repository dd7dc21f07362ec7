"""The Rego itself: compiles strictly, is formatted, lints clean, and its own
tests pass with at least 95 % coverage, on the pinned OPA and Regal."""

from __future__ import annotations

import json
import subprocess

COVERAGE_THRESHOLD = 95


def run(*command, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_policies_compile_in_strict_mode(opa_binary, policy_dir):
    done = run(opa_binary, "check", "--strict", policy_dir)
    assert done.returncode == 0, done.stdout + done.stderr


def test_policies_are_formatted(opa_binary, policy_dir):
    done = run(opa_binary, "fmt", "--list", policy_dir)
    assert done.returncode == 0 and done.stdout.strip() == "", (
        f"run `opa fmt -w policies`:\n{done.stdout}"
    )


def test_rego_tests_pass_with_coverage(opa_binary, policy_dir):
    done = run(
        opa_binary, "test", "--coverage", "--threshold", COVERAGE_THRESHOLD, policy_dir
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["coverage"] >= COVERAGE_THRESHOLD


def test_rego_tests_all_pass_verbosely(opa_binary, policy_dir):
    done = run(opa_binary, "test", "--format", "json", policy_dir)
    results = json.loads(done.stdout)
    failed = [
        result["name"]
        for result in results
        if result.get("fail") or result.get("error")
    ]
    assert done.returncode == 0 and not failed, failed
    assert len(results) >= 50


def test_regal_lint_is_clean(regal_binary, policy_dir):
    done = run(regal_binary, "lint", "--format", "compact", policy_dir, cwd=policy_dir)
    assert done.returncode == 0, done.stdout + done.stderr
