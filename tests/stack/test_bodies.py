"""Bad input is a 400 or a 413, never a 422 and never a 500."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

VECTORS = yaml.safe_load((Path(__file__).parent / "vectors.yaml").read_text())
BAD_BODIES = VECTORS["bad_agent_bodies"]
BAD_IDS = VECTORS["bad_agent_ids"]
MIB = 1024 * 1024
JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_agent_body_is_400(acme, body):
    response = acme.post("/v1/agents", content=body.encode(), headers=JSON)

    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_request"
    assert acme.get("/v1/agents").json()["total"] == 0


def test_good_agent_body_is_201(acme):
    response = acme.post("/v1/agents", content=b'{"name": "a"}', headers=JSON)

    assert response.status_code == 201


def test_unknown_field_is_named_in_the_message(acme):
    response = acme.post("/v1/agents", json={"name": "a", "owner": "u-2"})

    assert response.json()["error"]["message"] == "body.owner: unknown field"


def test_json_under_another_content_type_is_400(acme):
    response = acme.post(
        "/v1/agents", content=b'{"name": "a"}', headers={"Content-Type": "text/plain"}
    )

    assert response.status_code == 400


def test_invalid_utf8_is_400(acme):
    response = acme.post("/v1/agents", content=b'{"name": "\xff"}', headers=JSON)

    assert response.status_code == 400


def test_deeply_nested_json_is_400(acme):
    response = acme.post(
        "/v1/agents", content=b"[" * 100_000 + b"]" * 100_000, headers=JSON
    )

    assert response.status_code == 400


def test_body_over_1_mib_is_413_by_content_length(acme):
    body = b'{"name": "' + b"x" * MIB + b'"}'

    response = acme.post("/v1/agents", content=body, headers=JSON)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_streamed_body_over_1_mib_is_413(acme):
    def chunks():
        yield b'{"name": "'
        for _ in range(3):
            yield b"x" * (MIB // 2)
        yield b'"}'

    response = acme.post("/v1/agents", content=chunks(), headers=JSON)

    assert response.status_code == 413


def test_body_just_under_1_mib_is_read(acme):
    body = b'{"name": "' + b"x" * (MIB - 20) + b'"}'

    response = acme.post("/v1/agents", content=body, headers=JSON)

    assert response.status_code == 400  # read, then refused for the name's length


def test_a_lying_content_length_is_400(stack, acme):
    response = acme.post(
        "/v1/agents",
        content=b'{"name": "a"}',
        headers={**JSON, "Content-Length": "abc"},
    )

    assert response.status_code == 400


@pytest.mark.parametrize("agent_id", BAD_IDS.values(), ids=BAD_IDS.keys())
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_malformed_ids_are_400_or_404(acme, agent_id, method):
    response = acme.request(method, f"/v1/agents/{agent_id}", json={"name": "x"})

    assert response.status_code in (400, 404), response.text


def test_trailing_slash_is_404_not_a_redirect(acme):
    agent_id = acme.post("/v1/agents", json={"name": "a"}).json()["id"]

    response = acme.get(f"/v1/agents/{agent_id}/", follow_redirects=False)

    assert response.status_code == 404


def test_unknown_route_is_the_same_404(acme):
    response = acme.get("/v2/agents")

    assert (
        response.content
        == b'{"error":{"code":"not_found","message":"resource not found"}}'
    )


def test_wrong_method_is_405_in_the_error_shape(acme):
    response = acme.request("PATCH", "/v1/credentials")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_every_answer_has_a_fresh_request_id(stack, acme):
    answers = [
        stack.client.get("/health"),
        acme.get("/v2"),
        acme.post("/v1/agents", content=b"{"),
    ]

    ids = {response.headers["X-Request-ID"] for response in answers}

    assert len(ids) == 3
