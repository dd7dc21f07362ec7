"""Bearer tokens: minted by the operator, verified on every tenant request.

HS256 only, the algorithm pinned by the verifier (never read from the token),
every claim required. Time is checked against an explicit `now`. A token that
fails in any way is one opaque 401 for the caller; the cause is kept on the
exception for the audit log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from stack.errors import Unauthenticated
from stack.ids import is_tenant_id

ISSUER = "tenantguard-stack"
AUDIENCE = "tenantguard-api"
ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("iss", "aud", "exp", "nbf", "iat", "sub", "tid", "roles")

# Header and query names under which callers try to choose a tenant. Header
# names are compared lower-cased with "_" read as "-".
TENANT_HEADERS = frozenset(
    {"x-tenant-id", "x-tenant", "tenant-id", "tenant", "x-tenantid"}
)
TENANT_PARAMETERS = frozenset({"tenant", "tenant_id", "tenantid"})


@dataclass(frozen=True)
class Principal:
    """Who is calling, taken only from a verified token."""

    tenant: str
    user: str
    roles: tuple[str, ...]

    def subject(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "user": self.user, "roles": list(self.roles)}


def mint_token(
    secret: str, principal: Principal, ttl_seconds: int, now: datetime
) -> tuple[str, datetime]:
    """A signed token for `principal`, valid from `now` for `ttl_seconds`."""
    expires_at = now + timedelta(seconds=ttl_seconds)
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": principal.user,
        "tid": principal.tenant,
        "roles": list(principal.roles),
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM), expires_at


def decode_claims(
    unverified_token: str, secret: str, *, verify_signature: bool = True
) -> dict[str, Any]:
    """The token's claims once its signature, issuer and audience check out.

    Time claims are checked by `principal_from_claims`, against an explicit now.
    """
    options = {
        "verify_signature": verify_signature,
        "require": list(REQUIRED_CLAIMS),
        "verify_iss": True,
        "verify_aud": True,
        "verify_sub": True,
        "verify_exp": False,
        "verify_nbf": False,
        "verify_iat": False,
    }
    return jwt.decode(
        unverified_token,
        secret,
        algorithms=[ALGORITHM],
        audience=AUDIENCE,
        issuer=ISSUER,
        options=options,
    )


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header, or 401."""
    if not authorization or not authorization.strip():
        raise Unauthenticated("token_missing")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("token_malformed")
    return token.strip()


def principal_from_claims(claims: Mapping[str, Any], now: datetime) -> Principal:
    """The principal named by decoded claims, or 401 when they do not hold."""
    tenant, user, roles = claims.get("tid"), claims.get("sub"), claims.get("roles")
    claimed = tenant if isinstance(tenant, str) else None
    if not is_tenant_id(tenant) or not isinstance(user, str) or not user:
        raise Unauthenticated("token_claims_invalid", claimed)
    if not _is_string_list(roles):
        raise Unauthenticated("token_claims_invalid", claimed)
    _check_times(claims, now.timestamp(), claimed)
    return Principal(tenant, user, tuple(roles))


def _is_string_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _check_times(claims: Mapping[str, Any], now: float, claimed: str | None) -> None:
    times = [claims.get(name) for name in ("iat", "nbf", "exp")]
    if not all(isinstance(t, int | float) and not isinstance(t, bool) for t in times):
        raise Unauthenticated("token_claims_invalid", claimed)
    issued_at, not_before, expires = times
    if expires <= now:
        raise Unauthenticated("token_expired", claimed)
    if not_before > now or issued_at > now:
        raise Unauthenticated("token_not_yet_valid", claimed)


def rejection_cause(error: jwt.PyJWTError) -> str:
    """The audit reason for a token PyJWT refused."""
    match error:
        case jwt.InvalidSignatureError():
            return "token_signature_invalid"
        case jwt.InvalidAlgorithmError():
            return "token_algorithm_invalid"
        case jwt.DecodeError():
            return "token_malformed"
        case _:
            return "token_claims_invalid"


def unverified_tenant(unverified_token: str) -> str | None:
    """The `tid` a rejected token claims, for the operator's audit record only."""
    try:
        claims = jwt.decode(unverified_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    tenant = claims.get("tid")
    return tenant[:300] if isinstance(tenant, str) else None


def claimed_tenants(
    headers: Sequence[tuple[bytes, bytes]], query: Sequence[tuple[str, str]]
) -> list[str]:
    """Every tenant a caller names in a header or a query parameter."""
    claims = [
        value.decode("latin-1")
        for name, value in headers
        if name.decode("latin-1").lower().replace("_", "-") in TENANT_HEADERS
    ]
    claims += [value for name, value in query if name.lower() in TENANT_PARAMETERS]
    return claims
