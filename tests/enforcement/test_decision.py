"""The decision shape: exactly one accepted form, everything else refused."""

from __future__ import annotations

import pytest

from enforcement.decision import Decision, Reason, engine_denial

REASON = {"code": "not_found", "category": "isolation", "message": "resource not found"}


def test_well_formed_denial_is_accepted():
    decision = Decision.from_result({"allow": False, "status": 404, "reason": REASON})
    assert decision == Decision(False, 404, Reason(**REASON))
    assert decision.as_dict() == {"allow": False, "status": 404, "reason": REASON}


@pytest.mark.parametrize(
    "result",
    [
        pytest.param(None, id="null"),
        pytest.param([], id="list"),
        pytest.param({"allow": True}, id="missing-status-and-reason"),
        pytest.param({"allow": 1, "status": 200, "reason": REASON}, id="allow-is-int"),
        pytest.param(
            {"allow": True, "status": 200.0, "reason": REASON}, id="status-is-float"
        ),
        pytest.param(
            {"allow": True, "status": True, "reason": REASON}, id="status-is-bool"
        ),
        pytest.param(
            {"allow": True, "status": 404, "reason": REASON}, id="allow-with-404"
        ),
        pytest.param(
            {"allow": False, "status": 200, "reason": REASON}, id="deny-with-200"
        ),
        pytest.param(
            {"allow": False, "status": 404, "reason": "nope"}, id="reason-string"
        ),
        pytest.param(
            {"allow": False, "status": 404, "reason": {"code": "x"}},
            id="reason-partial",
        ),
        pytest.param(
            {"allow": False, "status": 404, "reason": {**REASON, "code": 7}},
            id="code-int",
        ),
        pytest.param(
            {"allow": False, "status": 404, "reason": REASON, "x": 1}, id="extra-key"
        ),
    ],
)
def test_malformed_result_is_refused(result):
    with pytest.raises(ValueError):
        Decision.from_result(result)


def test_engine_denial_is_a_503_denial():
    decision = engine_denial("engine_timeout")
    assert (decision.allow, decision.status, decision.reason.category) == (
        False,
        503,
        "engine",
    )
