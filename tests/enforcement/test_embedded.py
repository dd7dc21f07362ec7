"""The embedded engine fails closed like the OPA client does."""

from __future__ import annotations

import pytest

from enforcement import Embedded, EngineError, UsageError
from tests.enforcement.test_fail_closed import ROGUE_POLICY

ROGUE_ENTRY_POINTS = (
    "rogue/good",
    "rogue/never",
    "rogue/wrong_shape",
    "rogue/string_allow",
)


@pytest.fixture(scope="module")
def rogue(tmp_path_factory) -> Embedded:
    policy = tmp_path_factory.mktemp("rogue") / "rogue.rego"
    policy.write_text(ROGUE_POLICY)
    return Embedded(policy.parent, entry_points=ROGUE_ENTRY_POINTS)


def assert_denied(decision, code):
    assert (decision.allow, decision.status, decision.reason.code) == (False, 503, code)


def test_well_formed_answer_allows(rogue):
    assert rogue.decide("rogue/good", {}).allow is True


def test_undefined_decision_is_undefined(rogue):
    assert_denied(rogue.decide("rogue/never", {}), "engine_undefined")


def test_entry_point_not_compiled_is_undefined(rogue):
    assert_denied(rogue.decide("rogue/conflict", {}), "engine_undefined")


@pytest.mark.parametrize("entry_point", ["rogue/wrong_shape", "rogue/string_allow"])
def test_wrong_shape_is_malformed(rogue, entry_point):
    assert_denied(rogue.decide(entry_point, {}), "engine_malformed")


def test_input_that_is_not_json_is_an_error(rogue):
    assert_denied(rogue.decide("rogue/good", {"x": float("nan")}), "engine_error")


ARITHMETIC_POLICY = """\
package arithmetic

import rego.v1

invalid := {"allow": false, "status": 400, "reason": {
    "code": "request_invalid", "category": "input", "message": "invalid"}}

decision := invalid if input.v >= 0
"""


@pytest.fixture(scope="module")
def arithmetic(tmp_path_factory) -> Embedded:
    policy = tmp_path_factory.mktemp("arithmetic") / "arithmetic.rego"
    policy.write_text(ARITHMETIC_POLICY)
    return Embedded(policy.parent, entry_points=("arithmetic/decision",))


def test_output_regopy_cannot_parse_is_an_error_not_a_raise(arithmetic):
    # Found by `tenantguard policy check --engine embedded`: after arithmetic on
    # a float this small, regopy's wrapper raised JSONDecodeError out of decide.
    decision = arithmetic.decide("arithmetic/decision", {"v": 2.2250738585072014e-308})
    assert_denied(decision, "engine_error")


def test_a_small_float_regopy_can_evaluate_is_decided(arithmetic):
    decision = arithmetic.decide("arithmetic/decision", {"v": 1e-5})
    assert (decision.status, decision.reason.code) == (400, "request_invalid")


def test_policy_that_does_not_parse_is_refused(tmp_path):
    (tmp_path / "broken.rego").write_text("package broken\n\nallow if {\n")
    with pytest.raises(EngineError, match="could not compile"):
        Embedded(tmp_path, entry_points=("broken/allow",))


def test_missing_policy_directory_names_it(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        Embedded(tmp_path / "nowhere")


def test_put_data_is_seen_by_the_next_decision(tmp_path):
    (tmp_path / "flag.rego").write_text(
        "package flag\n\nimport rego.v1\n\n"
        'decision := {"allow": true, "status": 200, "reason": '
        '{"code": "allowed", "category": "allow", "message": "on"}} if data.flags.on\n'
        'default decision := {"allow": false, "status": 403, "reason": '
        '{"code": "feature_disabled", "category": "feature", "message": "off"}}\n'
    )
    engine = Embedded(
        tmp_path, {"flags": {"on": False}}, entry_points=("flag/decision",)
    )
    assert engine.decide("flag/decision", {}).allow is False

    engine.put_data("flags/on", True)
    assert engine.decide("flag/decision", {}).allow is True
