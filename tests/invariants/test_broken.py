"""Proof of power: every deliberately broken copy of the shipped policies is
caught, and each counterexample is usable as printed: its Rego test fails on
the broken copy and passes on the shipped policies, and its `opa eval`
command shows the decision the checker got."""

from __future__ import annotations

import json
import subprocess

import pytest

from harness.invariants import Checker
from harness.invariants.render import Counterexample, opa_eval, rego_file
from tests.invariants.mutants import mutations

MUTATIONS = mutations()
EXAMPLES = 500
ON_OPA = {
    "admin_crosses_tenants",
    "support_tenant_by_name",
    "startswith_without_separator",
    "percent_encoding_allowed",
    "message_names_other_tenant",
    "limit_compared_with_greater",
    "feature_tenant_from_resource",
    "key_undefined_falls_through_to_allow",
    "tenant_regex_unanchored",
    "decision_carries_tenant",
}


def run(*command, **options) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        check=False,
        **options,
    )


@pytest.fixture(scope="module")
def broken_root(tmp_path_factory):
    return tmp_path_factory.mktemp("broken")


def broken_copy(mutation, policy_dir, root):
    target = root / mutation.name
    return target if target.exists() else mutation.apply(policy_dir, target)


def test_at_least_eight_mutations_each_with_its_expected_catchers():
    from harness.invariants import NAMES

    assert len(MUTATIONS) >= 8
    assert len({mutation.name for mutation in MUTATIONS}) == len(MUTATIONS)
    for mutation in MUTATIONS:
        assert mutation.caught_by and set(mutation.caught_by) <= set(NAMES), (
            mutation.name
        )


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda mutation: mutation.name)
def test_broken_copy_is_caught_on_embedded(
    mutation, policy_dir, opa_binary, broken_root
):
    broken = broken_copy(mutation, policy_dir, broken_root)
    done = run(opa_binary, "check", broken)
    assert done.returncode == 0, f"the mistake must compile: {done.stderr}"

    example = first_counterexample(mutation, broken, "embedded")
    assert_reproduces(example, broken, policy_dir, opa_binary)


@pytest.mark.parametrize(
    "mutation",
    [mutation for mutation in MUTATIONS if mutation.name in ON_OPA],
    ids=lambda mutation: mutation.name,
)
def test_broken_copy_is_caught_on_real_opa(
    mutation, policy_dir, opa_binary, broken_root
):
    broken = broken_copy(mutation, policy_dir, broken_root)
    example = first_counterexample(mutation, broken, "opa", opa_binary=opa_binary)
    assert_reproduces(example, broken, policy_dir, opa_binary)


def first_counterexample(mutation, broken, engine, **options) -> Counterexample:
    """The counterexample of the first of the mutation's expected catchers
    that catches it; fail if none does."""
    reports = []
    with Checker(broken, engine, examples=EXAMPLES, **options) as checker:
        for invariant in mutation.caught_by:
            reports.append(checker.run(invariant))
            if not reports[-1].ok:
                return reports[-1].counterexample
    lines = "\n".join(outcome.line() for outcome in reports)
    pytest.fail(f"{mutation.name} ({mutation.mistake}) was not caught:\n{lines}")


def assert_reproduces(example: Counterexample, broken, shipped, opa_binary) -> None:
    test_file = broken.parent / f"{broken.name}-{example.invariant}_test.rego"
    test_file.write_text(rego_file([example]))
    name = f"test_{example.invariant}_counterexample"

    on_broken = run(opa_binary, "test", broken, test_file, "--run", name)
    assert on_broken.returncode != 0 and "FAIL" in on_broken.stdout, (
        on_broken.stdout + on_broken.stderr
    )
    on_shipped = run(
        opa_binary, "test", shipped, test_file, "--run", name, "--format", "json"
    )
    results = json.loads(on_shipped.stdout)
    assert on_shipped.returncode == 0 and len(results) == 1, (
        on_shipped.stdout + on_shipped.stderr
    )
    assert_eval_shows_decision(example, opa_binary)


def assert_eval_shows_decision(example: Counterexample, opa_binary) -> None:
    command = opa_eval(example).replace(
        "opa eval --format pretty", f"{opa_binary} eval --format json", 1
    )
    done = run("bash", "-c", command)
    assert done.returncode == 0, done.stderr
    bindings = json.loads(done.stdout)["result"][0]["bindings"]
    if not example.decision.reason.code.startswith("engine_"):
        assert bindings["decision"] == example.decision.as_dict()
