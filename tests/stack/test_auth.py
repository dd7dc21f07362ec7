"""Identity: only a verified HS256 token names the tenant; every failure is one
opaque 401, with its cause in the audit log."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
import yaml

from stack.auth import AUDIENCE, ISSUER
from tests.stack.conftest import JWT_SECRET, START

VECTORS = yaml.safe_load((Path(__file__).parent / "vectors.yaml").read_text())
UNAUTHENTICATED = {
    "error": {"code": "unauthenticated", "message": "a valid bearer token is required"}
}


def _claims(**changes) -> dict:
    now = int(START.timestamp())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "u-1",
        "tid": "acme",
        "roles": ["admin"],
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def _signed(claims: dict, key: str = JWT_SECRET, **options) -> str:
    return jwt.encode(claims, key, algorithm="HS256", **options)


def _unsigned(claims: dict) -> str:
    def part(document: dict) -> str:
        return (
            base64.urlsafe_b64encode(json.dumps(document).encode())
            .rstrip(b"=")
            .decode()
        )

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _edited(claims: dict) -> str:
    """A valid token whose payload was changed afterwards without re-signing."""
    header, _, signature = _signed(_claims()).split(".")
    payload = (
        base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    )
    return f"{header}.{payload}.{signature}"


BAD_TOKENS = {
    "alg-none": lambda: _unsigned(_claims()),
    "alg-none-other-tenant": lambda: _unsigned(_claims(tid="globex")),
    "wrong-key": lambda: _signed(_claims(), "another-secret-0123456789abcdef0123"),
    "edited-tenant": lambda: _edited(_claims(tid="globex")),
    "expired": lambda: _signed(_claims(exp=int(START.timestamp()) - 1)),
    "expires-now": lambda: _signed(_claims(exp=int(START.timestamp()))),
    "not-yet-valid": lambda: _signed(
        _claims(nbf=int((START + timedelta(minutes=5)).timestamp()))
    ),
    "issued-in-future": lambda: _signed(
        _claims(iat=int((START + timedelta(minutes=5)).timestamp()))
    ),
    "wrong-issuer": lambda: _signed(_claims(iss="someone-else")),
    "wrong-audience": lambda: _signed(_claims(aud="another-api")),
    "missing-tid": lambda: _signed(_claims(tid=None)),
    "missing-exp": lambda: _signed(_claims(exp=None)),
    "missing-roles": lambda: _signed(_claims(roles=None)),
    "missing-sub": lambda: _signed(_claims(sub=None)),
    "tid-is-a-path": lambda: _signed(_claims(tid="../globex")),
    "tid-not-a-string": lambda: _signed(_claims(tid=["acme"])),
    "roles-not-a-list": lambda: _signed(_claims(roles="admin")),
    "exp-not-a-number": lambda: _signed(_claims(exp="tomorrow")),
    "hs512": lambda: jwt.encode(_claims(), JWT_SECRET, algorithm="HS512"),
    "jku-header": lambda: (
        _signed(_claims(), headers={"jku": "https://attacker.example/jwks"}) + "x"
    ),
    "garbage": lambda: "not.a.token",
    "empty-segments": lambda: "..",
}


@pytest.fixture
def acme_exists(stack):
    assert stack.create_tenant("acme").status_code == 201
    assert stack.create_tenant("globex").status_code == 201


def test_a_valid_token_is_accepted(stack, acme_exists):
    response = stack.client.get(
        "/v1/agents", headers={"Authorization": f"Bearer {_signed(_claims())}"}
    )

    assert response.status_code == 200


@pytest.mark.parametrize("make_token", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_a_bad_token_is_401_and_audited_as_spoofing(stack, acme_exists, make_token):
    response = stack.client.get(
        "/v1/agents", headers={"Authorization": f"Bearer {make_token()}"}
    )

    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED
    assert response.headers["WWW-Authenticate"] == "Bearer"
    [record] = stack.audit(request_id=response.headers["X-Request-ID"])
    assert (record["event"], record["decision"], record["actor_tenant"]) == (
        "tenant_spoofing",
        "deny",
        None,
    )
    assert record["reason"].startswith("token_")


def test_the_cause_is_recorded_for_the_operator(stack, acme_exists):
    token = _unsigned(_claims(tid="globex"))

    response = stack.client.get(
        "/v1/agents", headers={"Authorization": f"Bearer {token}"}
    )

    [record] = stack.audit(request_id=response.headers["X-Request-ID"])
    assert (record["reason"], record["target_tenant"]) == (
        "token_algorithm_invalid",
        "globex",
    )


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc"],
    ids=["absent", "empty", "scheme-only", "scheme-space", "basic", "other-scheme"],
)
def test_no_usable_authorization_header_is_401(stack, acme_exists, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}

    response = stack.client.get("/v1/agents", headers=headers)

    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED


def test_two_authorization_headers_are_refused(stack, acme_exists):
    token = _signed(_claims())
    headers = [
        ("Authorization", f"Bearer {token}"),
        ("Authorization", f"Bearer {token}"),
    ]

    response = stack.client.get("/v1/agents", headers=headers)

    assert response.status_code == 401


def test_a_token_expires_with_the_clock(stack, clock, acme):
    assert acme.get("/v1/agents").status_code == 200

    clock.advance(hours=1)

    assert acme.get("/v1/agents").status_code == 401


@pytest.mark.parametrize("header", VECTORS["tenant_headers"])
def test_a_tenant_header_is_ignored_and_audited(stack, acme, globex, header):
    globex.post("/v1/agents", json={"name": "globex-agent"})

    response = acme.get("/v1/agents", headers={header: "globex"})

    assert response.status_code == 200
    assert response.json()["total"] == 0
    [record] = stack.audit(request_id=response.headers["X-Request-ID"])
    assert (record["event"], record["actor_tenant"], record["target_tenant"]) == (
        "tenant_spoofing",
        "acme",
        "globex",
    )


def test_an_agreeing_tenant_header_is_not_spoofing(stack, acme):
    response = acme.get("/v1/agents", headers={"X-Tenant-ID": "acme"})

    assert response.status_code == 200
    assert stack.audit(request_id=response.headers["X-Request-ID"]) == []


def test_a_tenant_query_parameter_is_ignored_and_audited(stack, acme, globex):
    response = acme.get("/v1/agents", params={"tenant_id": "globex"})

    assert response.status_code == 200
    [record] = stack.audit(request_id=response.headers["X-Request-ID"])
    assert record["reason"] == "tenant_claim_mismatch"


def test_a_tenant_body_field_is_refused_and_audited(stack, acme):
    response = acme.post("/v1/agents", json={"name": "a", "tenant_id": "globex"})

    assert response.status_code == 400
    [record] = stack.audit(request_id=response.headers["X-Request-ID"])
    assert (record["event"], record["reason"], record["target_tenant"]) == (
        "tenant_spoofing",
        "tenant_field_mismatch",
        "globex",
    )


def test_a_bad_body_without_a_token_is_401_not_400(stack, acme_exists):
    response = stack.client.post(
        "/v1/agents", content=b"{", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 401


def test_a_well_signed_token_of_an_unknown_tenant_is_401(stack, acme_exists):
    token = _signed(_claims(tid="ghost"))

    response = stack.client.get(
        "/v1/agents", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 401
    [record] = stack.audit(request_id=response.headers["X-Request-ID"])
    assert (record["event"], record["reason"]) == ("denied", "tenant_unknown")
