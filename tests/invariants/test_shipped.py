"""The shipped policies keep every invariant, on real OPA and on the embedded
engine; and the generated inputs reach every documented decision, so the
invariants are not held vacuously.

This module is also the example of running the invariants in a policy
repository's own pytest suite, beside `opa test`.
"""

from __future__ import annotations

import collections

import pytest

from enforcement import Embedded, EngineError, UsageError
from enforcement.decision import engine_denial
from harness.invariants import NAMES, Checker
from harness.invariants.contract import DOCUMENTED

EXAMPLES = 300


@pytest.fixture(scope="module")
def on_opa(policy_dir, opa_binary):
    with Checker(
        policy_dir, "opa", examples=EXAMPLES, opa_binary=opa_binary
    ) as checker:
        yield checker


@pytest.fixture(scope="module")
def on_embedded(policy_dir):
    with Checker(policy_dir, "embedded", examples=EXAMPLES) as checker:
        yield checker


@pytest.mark.parametrize("invariant", NAMES)
def test_shipped_policies_keep_the_invariant_on_real_opa(on_opa, invariant):
    outcome = on_opa.run(invariant)
    outcome.assert_holds()
    assert outcome.inputs == EXAMPLES


@pytest.mark.parametrize("invariant", NAMES)
def test_shipped_policies_keep_the_invariant_on_embedded(on_embedded, invariant):
    outcome = on_embedded.run(invariant)
    outcome.assert_holds()
    assert outcome.inputs == EXAMPLES


class RecordingEngine:
    """A real engine that remembers the reason code of every decision."""

    def __init__(self, engine):
        self.engine, self.codes = engine, collections.defaultdict(collections.Counter)

    def decide(self, entry_point, input):
        decision = self.engine.decide(entry_point, input)
        self.codes[entry_point][decision.reason.code] += 1
        return decision

    def put_data(self, path, value):
        self.engine.put_data(path, value)

    def close(self):
        self.engine.close()


def test_generated_inputs_reach_every_documented_decision(policy_dir):
    engine = RecordingEngine(Embedded(policy_dir))
    with Checker(policy_dir, engine, examples=100) as checker:
        checker.run_all().assert_holds()

    reached = sum(engine.codes.values(), collections.Counter())
    assert set(reached) == set(DOCUMENTED), reached
    for entry_point, codes in engine.codes.items():
        assert codes["allowed"] > 0 and len(codes) >= 4, (entry_point, codes)


def test_an_unknown_invariant_is_a_usage_error(on_embedded):
    with pytest.raises(UsageError, match="no invariant named 'cross_tenant'"):
        on_embedded.run("cross_tenant")


class UnreachableEngine:
    """An engine whose server is gone: every decision is engine_unavailable."""

    def decide(self, entry_point, input):
        return engine_denial("engine_unavailable")

    def put_data(self, path, value):
        pass

    def close(self):
        pass


def test_an_unreachable_engine_stops_the_run_instead_of_blaming_the_policy(policy_dir):
    checker = Checker(policy_dir, UnreachableEngine(), examples=50)
    with checker, pytest.raises(EngineError, match="engine_unavailable"):
        checker.run("limit_boundary")


def test_outcomes_do_not_depend_on_the_number_of_workers(policy_dir):
    names = ["limit_boundary", "rename_invariance"]
    with Checker(policy_dir, "embedded", examples=40, seed=7) as checker:
        alone = checker.run_all(names)
        shared = checker.run_all(names, workers=2)
    assert [o.invariant for o in shared.outcomes] == names
    assert [(o.inputs, o.decisions, o.ok) for o in alone.outcomes] == [
        (o.inputs, o.decisions, o.ok) for o in shared.outcomes
    ]


class RaisingEngine(RecordingEngine):
    """A real engine that breaks its contract on a float usage, as regopy's
    output parsing did on 5e-324."""

    def decide(self, entry_point, input):
        usage = input.get("usage")
        current = usage.get("current") if isinstance(usage, dict) else None
        if isinstance(current, float):
            raise ValueError("not JSON")
        return super().decide(entry_point, input)


def test_an_engine_that_raises_is_a_violation_with_its_input(policy_dir):
    with Checker(
        policy_dir, RaisingEngine(Embedded(policy_dir)), examples=300
    ) as checker:
        outcome = checker.run("limit_boundary")
    assert not outcome.ok
    assert outcome.counterexample.problems == (
        "the engine raised ValueError: not JSON instead of deciding; "
        "decide must never raise (it must deny, fail closed)",
    )
    assert outcome.counterexample.case.input["usage"]["current"] == 0.0
