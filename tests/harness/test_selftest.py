"""`tenantguard selftest`: the kill matrix and its verdict, with a hand-written
runner; then once for real, on OPA, with the correct stack and one variant."""

from __future__ import annotations

import json
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

from harness import selftest
from harness.selftest import Outcome

REPO = Path(__file__).resolve().parents[2]


def options(tmp_path, variants, runs=1) -> Namespace:
    return Namespace(
        variants=variants,
        runs=runs,
        seed=9,
        engine="embedded",
        workers="2",
        report_dir=tmp_path,
    )


def fake_runner(caught: dict[str, list[str]]):
    def run(variant, run, seed, report_dir, options, paths):
        found = list(caught.get(variant, []))
        return Outcome(variant, run, seed, 1.0, {"passed": 3}, caught_by=found)

    return run


def test_every_variant_caught_and_a_clean_correct_stack_pass(tmp_path):
    lines: list[str] = []
    runner = fake_runner({"leaky": ["read-foreign-object[agent]", "a[x]", "a[y]"]})

    code = selftest.selftest(
        options(tmp_path, ["correct", "leaky"], runs=2),
        ["scenarios"],
        runner=runner,
        echo=lines.append,
    )

    assert code == 0
    text = "\n".join(lines)
    assert "correct: clean clean" in text and "no finding on correct" in text
    assert "leaky: caught caught" in text
    assert "3 items in 2 scenarios" in text and "    a (2)" in text
    summary = json.loads((tmp_path / "selftest.json").read_text())
    assert summary["passed"] is True and len(summary["outcomes"]) == 4


def test_a_surviving_variant_fails_the_selftest(tmp_path):
    lines: list[str] = []

    code = selftest.selftest(
        options(tmp_path, ["correct", "survivor"]),
        ["scenarios"],
        runner=fake_runner({}),
        echo=lines.append,
    )

    assert code == 1
    assert "survivor: SURVIVED" in lines
    assert "1 did not pass: survivor (run 1: SURVIVED)" in lines[-1]


def test_a_finding_on_the_correct_stack_fails_the_selftest(tmp_path):
    lines: list[str] = []

    code = selftest.selftest(
        options(tmp_path, ["correct"]),
        ["scenarios"],
        runner=fake_runner({"correct": ["read-foreign-object[agent]"]}),
        echo=lines.append,
    )

    assert code == 1
    assert "correct: FINDINGS" in lines


def test_the_variants_are_read_from_the_stack():
    from stack.variants import VARIANTS

    names = selftest.variant_names()

    assert names[0] == "correct" and set(names) == set(VARIANTS)


def test_selftest_on_opa_catches_a_variant_and_passes_the_correct_stack(
    tmp_path, opa_binary
):
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "selftest", "--engine", "opa",
         "--variant", "correct", "--variant", "forbidden_not_404", "-n", "2",
         "--report-dir", str(tmp_path),
         "scenarios/a01-read-foreign-object.yaml", "scenarios/g44-exists-but-not-yours.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "correct: clean" in done.stdout
    assert "forbidden_not_404: caught" in done.stdout
    assert "exists-but-not-yours (" in done.stdout
    assert (tmp_path / "run-1" / "forbidden_not_404" / "report.sarif").is_file()


# The variants of groups B, C, E and H, each with the scenario meant to catch it.
CATCHERS = {
    "roles_ignored": (
        "scenarios/b17-viewer-cannot-write.yaml",
        "viewer-cannot-write (",
    ),
    "credential_row_exposed": (
        "scenarios/h49-seal-bound-to-its-tenant.yaml",
        "seal-bound-to-its-tenant (",
    ),
    "storage_strips_dotdot_once": (
        "scenarios/e33-filter-stripping-bypass.yaml",
        "filter-stripping-bypass (",
    ),
    "shared_tenant_key": (
        "scenarios/h49-seal-bound-to-its-tenant.yaml",
        "seal-bound-to-its-tenant (",
    ),
}


def test_selftest_on_opa_catches_the_b_c_e_and_h_variants(tmp_path, opa_binary):
    variants = [
        option for name in ["correct", *CATCHERS] for option in ("--variant", name)
    ]
    paths = sorted({path for path, _ in CATCHERS.values()})
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "selftest", "--engine", "opa",
         *variants, "-n", "2", "--report-dir", str(tmp_path), *paths],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "correct: clean" in done.stdout
    for variant, (_, caught_by) in CATCHERS.items():
        assert caught_by in _matrix_detail(done.stdout, variant), variant


def _matrix_detail(output: str, variant: str) -> str:
    """The indented lines under `variant: caught` in the kill matrix."""
    lines = output.split(f"\n{variant}: caught", 1)[1].splitlines()[1:]
    detail = []
    for line in lines:
        if not line.startswith("    "):
            break
        detail.append(line)
    return "\n".join(detail)
