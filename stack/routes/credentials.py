"""Stored credentials: sealed under the tenant's key, never returned.

Each ciphertext is bound to its tenant, its key and its row ID (associated
data), so one copied into another tenant's row, or another row, does not
open; such a failure is a 503 for the caller and a `decryption_failed`
record for the operator.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from enforcement.keys import KeyUnavailable, TenantKeySet, key_id_of
from stack.clock import iso
from stack.db import Credential
from stack.errors import Unavailable
from stack.ids import CREDENTIAL_ID, new_id
from stack.keys import credential_context
from stack.policy import Target
from stack.routes.common import Ctx, Limit, Offset
from stack.schemas import CredentialCheck, CredentialCreate

router = APIRouter(prefix="/v1")

CredentialId = Annotated[str, Path(pattern=CREDENTIAL_ID)]


def credential_view(credential: Credential) -> dict[str, Any]:
    return {
        "id": credential.id,
        "name": credential.name,
        "created_at": iso(credential.created_at),
        "fingerprint": credential.fingerprint,
    }


@router.post("/credentials", status_code=201)
def create_credential(body: CredentialCreate, ctx: Ctx) -> dict[str, Any]:
    target = Target("create", "credential")
    ctx.enforcer.access(target, ctx.principal.tenant)
    keys = _tenant_keys(ctx, target)
    ctx.enforcer.key(target, ctx.principal.tenant, keys.primary.key_id)

    credential_id = new_id("cr")
    secret = body.secret.encode()
    credential = Credential(
        id=credential_id,
        name=body.name,
        key_id=keys.primary.key_id,
        ciphertext=keys.seal(secret, credential_context(credential_id)),
        fingerprint=keys.fingerprint(secret),
        created_at=ctx.now,
    )
    ctx.scope.add(credential)
    ctx.session.commit()
    return ctx.variant.credential_fields(credential, credential_view(credential))


@router.post("/credentials/{credential_id}/verify")
def verify_credential(
    credential_id: CredentialId, body: CredentialCheck, ctx: Ctx
) -> dict[str, bool]:
    """Whether `secret` is the stored one: the secret is opened, compared in
    constant time, and never returned."""
    target = Target("execute", "credential", credential_id)
    credential = ctx.resolve(Credential, target)
    keys = _tenant_keys(ctx, target)
    stored = _open(ctx, target, keys, credential)
    return {"match": hmac.compare_digest(stored, body.secret.encode())}


def _open(
    ctx: Ctx, target: Target, keys: TenantKeySet, credential: Credential
) -> bytes:
    try:
        key_id = key_id_of(credential.ciphertext)
        ctx.enforcer.key(target, ctx.principal.tenant, key_id)
        return keys.open(credential.ciphertext, credential_context(credential.id))
    except KeyUnavailable:
        ctx.enforcer.record("decryption_failed", "ciphertext_invalid", target)
        raise Unavailable() from None


def _tenant_keys(ctx: Ctx, target: Target) -> TenantKeySet:
    """The caller's tenant keys; a key that does not unwrap is audited, 503."""
    try:
        return ctx.variant.tenant_keyset(
            ctx.services.keys, ctx.session, ctx.principal.tenant
        )
    except KeyUnavailable:
        ctx.enforcer.record("denied", "key_unavailable", target)
        raise Unavailable() from None


@router.get("/credentials")
def list_credentials(
    ctx: Ctx, limit: Limit = 100, offset: Offset = 0
) -> dict[str, Any]:
    ctx.enforcer.access(Target("list", "credential"), ctx.principal.tenant)
    credentials, total = ctx.variant.list_credentials(ctx.scope, limit, offset)
    items = [ctx.variant.credential_fields(c, credential_view(c)) for c in credentials]
    return {"items": items, "total": total}


@router.get("/credentials/{credential_id}")
def read_credential(credential_id: CredentialId, ctx: Ctx) -> dict[str, Any]:
    credential = ctx.resolve(Credential, Target("read", "credential", credential_id))
    return ctx.variant.credential_fields(credential, credential_view(credential))


@router.delete("/credentials/{credential_id}", status_code=204)
def delete_credential(credential_id: CredentialId, ctx: Ctx) -> Response:
    credential = ctx.resolve(Credential, Target("delete", "credential", credential_id))
    ctx.scope.delete(credential)
    ctx.session.commit()
    return Response(status_code=204)
