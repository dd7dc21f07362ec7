"""Every way OPA can fail to give a decision ends in a denial.

Each case runs against a real process or socket: a real OPA server with a
deliberately misbehaving policy, or a canned HTTP server on loopback. The
client is never mocked.
"""

from __future__ import annotations

import threading
import time

import pytest

from enforcement import Decision, OpaServer
from enforcement.opa_server import DEFAULT_TIMEOUT
from harness.services import OpaProcess
from tests.fakes import CannedServer, SilentListener, closed_port_url

ROGUE_POLICY = """\
package rogue

import rego.v1

good := {"allow": true, "status": 200, "reason": {
    "code": "allowed", "category": "allow", "message": "allowed"}}

never := good if false

conflict = 1 if input.a
conflict = 2 if input.a

wrong_shape := {"allow": true}

string_allow := {"allow": "true", "status": 200, "reason": good.reason}

slow := good if {
    every i in numbers.range(1, input.n) {
        every j in numbers.range(1, input.n) {
            i + j > 0
        }
    }
}
"""

GOOD_RESULT = b'{"result": {"allow": true, "status": 200, "reason": {"code": "allowed", "category": "allow", "message": "ok"}}}'  # noqa: E501


@pytest.fixture(scope="module")
def rogue_opa(opa_binary, tmp_path_factory):
    policy = tmp_path_factory.mktemp("rogue") / "rogue.rego"
    policy.write_text(ROGUE_POLICY)
    with OpaProcess(policy.parent, binary=opa_binary) as opa:
        yield opa


def decide_once(url, entry_point, input, timeout=DEFAULT_TIMEOUT) -> Decision:
    with OpaServer(url, timeout=timeout) as engine:
        return engine.decide(entry_point, input)


def assert_denied(decision: Decision, code: str) -> None:
    assert decision.allow is False
    assert decision.status == 503
    assert decision.reason.code == code
    assert decision.reason.category == "engine"


def test_rogue_policy_allows_when_it_answers_well(rogue_opa):
    # The twin of every denial below: the same server, a well-formed answer.
    decision = decide_once(rogue_opa.url, "rogue/good", {})
    assert decision.allow is True


def test_opa_stopped_is_unavailable(opa_binary, tmp_path):
    (tmp_path / "rogue.rego").write_text(ROGUE_POLICY)
    opa = OpaProcess(tmp_path, binary=opa_binary)
    opa.start()
    engine = OpaServer(opa.url)
    assert engine.decide("rogue/good", {}).allow is True

    opa.stop()
    with engine:
        assert_denied(engine.decide("rogue/good", {}), "engine_unavailable")


def test_connection_refused_is_unavailable():
    assert_denied(
        OpaServer(closed_port_url()).decide("rogue/good", {}), "engine_unavailable"
    )


def test_opa_killed_mid_request_is_unavailable(opa_binary, tmp_path):
    (tmp_path / "rogue.rego").write_text(ROGUE_POLICY)
    opa = OpaProcess(tmp_path, binary=opa_binary)
    opa.start()
    engine = OpaServer(opa.url, timeout=(0.5, 60.0))
    decisions: list[Decision] = []
    request = threading.Thread(
        target=lambda: decisions.append(engine.decide("rogue/slow", {"n": 20000}))
    )

    request.start()
    time.sleep(0.5)
    assert request.is_alive(), "the slow policy finished before OPA was killed"
    opa.kill()
    request.join(timeout=10)
    opa.stop()
    engine.close()

    assert_denied(decisions[0], "engine_unavailable")


def test_opa_answering_500_is_http_error(rogue_opa):
    decision = decide_once(rogue_opa.url, "rogue/conflict", {"a": True})
    assert_denied(decision, "engine_http_error")


def test_canned_500_is_http_error():
    with CannedServer(status=500, body=b'{"code": "internal_error"}') as server:
        assert_denied(decide_once(server.url, "rogue/good", {}), "engine_http_error")


def test_opa_slower_than_timeout_is_timeout(rogue_opa):
    decision = decide_once(rogue_opa.url, "rogue/slow", {"n": 20000}, (0.5, 0.2))
    assert_denied(decision, "engine_timeout")


def test_hung_server_is_timeout():
    with SilentListener() as listener:
        decision = decide_once(listener.url, "rogue/good", {}, (0.5, 0.2))
        assert_denied(decision, "engine_timeout")


def test_undefined_decision_is_undefined(rogue_opa):
    assert_denied(decide_once(rogue_opa.url, "rogue/never", {}), "engine_undefined")


def test_unknown_entry_point_is_undefined(rogue_opa):
    decision = decide_once(rogue_opa.url, "rogue/no_such_rule", {})
    assert_denied(decision, "engine_undefined")


def test_canned_empty_object_is_undefined():
    with CannedServer(body=b"{}") as server:
        assert_denied(decide_once(server.url, "rogue/good", {}), "engine_undefined")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"result": {"allow": tr', id="truncated-json"),
        pytest.param(b"<html>bad gateway</html>", id="html"),
        pytest.param(b"", id="empty-body"),
        pytest.param(b"\xff\xfe\x00garbage", id="binary"),
        pytest.param(b"[1, 2]", id="json-array"),
        pytest.param(b'{"result": true}', id="bare-boolean-result"),
        pytest.param(
            b'{"result": {"allow": true, "status": 403, "reason": {"code": "x", "category": "x", "message": "x"}}}',
            id="allow-with-denial-status",
        ),  # noqa: E501
    ],
)
def test_canned_malformed_body_is_malformed(body):
    with CannedServer(body=body) as server:
        assert_denied(decide_once(server.url, "rogue/good", {}), "engine_malformed")


def test_canned_well_formed_body_allows():
    # The twin of the malformed cases: the same canned server, a good body.
    with CannedServer(body=GOOD_RESULT) as server:
        assert decide_once(server.url, "rogue/good", {}).allow is True


@pytest.mark.parametrize("entry_point", ["rogue/wrong_shape", "rogue/string_allow"])
def test_opa_wrong_shape_is_malformed(rogue_opa, entry_point):
    assert_denied(decide_once(rogue_opa.url, entry_point, {}), "engine_malformed")


def test_input_that_is_not_json_is_denied_without_a_request():
    with CannedServer(body=GOOD_RESULT) as server:
        decision = decide_once(server.url, "rogue/good", {"x": object()})
        assert_denied(decision, "engine_error")
        assert server.requests == 0
