"""Stored credentials: sealed under the tenant's key, never returned."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from stack.clock import iso
from stack.db import Credential
from stack.errors import Unavailable
from stack.ids import CREDENTIAL_ID, new_id
from stack.keys import KeyUnavailable, TenantKey
from stack.policy import Target
from stack.routes.common import Ctx, Limit, Offset
from stack.schemas import CredentialCreate

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
    key = _tenant_key(ctx, target)

    credential = Credential(
        id=new_id("cr"),
        name=body.name,
        key_id=key.key_id,
        ciphertext=key.seal(body.secret),
        fingerprint=key.fingerprint(body.secret),
        created_at=ctx.now,
    )
    ctx.scope.add(credential)
    ctx.session.commit()
    return credential_view(credential)


def _tenant_key(ctx: Ctx, target: Target) -> TenantKey:
    """The caller's tenant key, once the key policy allows its use."""
    tenant = ctx.scope.tenant()
    if tenant is None:
        ctx.enforcer.missing(target)
    ctx.enforcer.key(target, tenant.id, tenant.key_id)
    try:
        return ctx.services.keyring.tenant_key(
            tenant.id, tenant.key_id, tenant.wrapped_key
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
    return {"items": [credential_view(c) for c in credentials], "total": total}


@router.get("/credentials/{credential_id}")
def read_credential(credential_id: CredentialId, ctx: Ctx) -> dict[str, Any]:
    target = Target("read", "credential", credential_id)
    return credential_view(ctx.resolve(Credential, target))


@router.delete("/credentials/{credential_id}", status_code=204)
def delete_credential(credential_id: CredentialId, ctx: Ctx) -> Response:
    credential = ctx.resolve(Credential, Target("delete", "credential", credential_id))
    ctx.scope.delete(credential)
    ctx.session.commit()
    return Response(status_code=204)
