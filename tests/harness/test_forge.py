"""Forged JWTs: what each forgery puts in the header, claims and signature."""

from __future__ import annotations

import json

import jwt
import pytest

from harness.forge import ForgeError, Forgery, b64url_decode, describe, forge

KEY = "the-real-signing-key-of-32-bytes!!"
CLAIMS = {"iss": "stack", "aud": "api", "tid": "tg-a", "sub": "u", "exp": 2_000_000_000}
REAL = jwt.encode(CLAIMS, KEY, algorithm="HS256")


def parts(token: str) -> tuple[dict, dict, str]:
    header, payload, *signature = token.split(".")
    return (
        json.loads(b64url_decode(header)),
        json.loads(b64url_decode(payload)),
        signature,
    )


def test_alg_none_is_unsigned_with_an_empty_signature():
    token = forge(REAL, Forgery(alg="none", claims={"tid": "tg-b"}))

    header, claims, signature = parts(token)
    assert header == {"alg": "none", "typ": "JWT"}
    assert claims == CLAIMS | {"tid": "tg-b"}
    assert signature == [""]


@pytest.mark.parametrize(("mode", "count"), [("omit", 2), ("empty", 3)])
def test_alg_none_with_or_without_the_signature_part(mode, count):
    assert len(forge(REAL, Forgery(alg="None", signature=mode)).split(".")) == count


def test_edited_claims_keep_the_real_signature():
    token = forge(REAL, Forgery(claims={"tid": "tg-b"}, signature="keep"))

    assert token.split(".")[2] == REAL.split(".")[2]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, KEY, algorithms=["HS256"], audience="api")


def test_a_token_signed_with_the_real_key_verifies():
    token = forge(REAL, Forgery(key=KEY, claims={"iss": "other"}))

    decoded = jwt.decode(token, KEY, algorithms=["HS256"], audience="api")
    assert decoded["iss"] == "other"


def test_a_guessed_key_does_not_verify():
    token = forge(
        REAL, Forgery(key="secret-guessed-by-the-attacker-32b", claims={"tid": "tg-b"})
    )

    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, KEY, algorithms=["HS256"], audience="api")


def test_dropped_claims_and_extra_header_fields():
    token = forge(
        REAL, Forgery(key="k", drop=("exp",), header={"kid": "../x", "jku": "http://a"})
    )

    header, claims, _ = parts(token)
    assert "exp" not in claims
    assert header == {"alg": "HS256", "typ": "JWT", "kid": "../x", "jku": "http://a"}


def test_signing_with_an_unsupported_algorithm_is_refused():
    with pytest.raises(ForgeError, match="signs only HS256"):
        forge(REAL, Forgery(alg="RS256", key="k"))


def test_signing_without_a_key_is_refused():
    with pytest.raises(ForgeError, match="needs `key:`"):
        forge(REAL, Forgery(alg="HS256"))


def test_a_base_token_that_is_not_a_jwt_is_refused():
    with pytest.raises(ForgeError, match="not a JWT"):
        forge("opaque-token", Forgery(alg="none"))


def test_describe_shows_header_claims_and_a_signature_prefix():
    text = describe(forge(REAL, Forgery(alg="none")))

    assert text.startswith(
        'header {"alg": "none", "typ": "JWT"}, claims {"iss": "stack"'
    )
    assert text.endswith("signature (none)")
