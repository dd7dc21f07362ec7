"""Deliberately vulnerable builds of the stack, for proving the harness.

`Variant` is the correct stack: each of its methods is one isolation measure,
called from the one place in the request path that needs it. Every subclass
overrides exactly one method, turning exactly that measure off. A stack picks
its variant by name from `VARIANTS` (setting `variant`, default "correct").
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import jwt
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from enforcement.keys import DataKey, TenantKeySet
from enforcement.quota import Quotas, Reservation
from enforcement.storage import TenantStorage
from enforcement.tenancy import Tenancy
from stack.auth import Principal, decode_claims
from stack.db import Agent, Credential, Execution, QuotaCounter
from stack.errors import ApiError, Forbidden, NotFound
from stack.ids import is_tenant_id
from stack.keys import TenantKeys
from stack.scope import TenantScope, page, unscoped_get


@dataclass(frozen=True)
class Found:
    """A row a request may act on, and the tenant the policy is told owns it."""

    row: Any
    tenant: str


Lookup = Callable[[TenantScope, str], Found | None]


def own(model: type) -> Lookup:
    """Look rows of `model` up in the caller's tenant, and nowhere else."""

    def lookup(scope: TenantScope, object_id: str) -> Found | None:
        row = scope.get(model, object_id)
        return None if row is None else Found(row, row.tenant_id)

    return lookup


class Variant:
    """The correct stack: every isolation measure on."""

    name = "correct"

    def __repr__(self) -> str:
        return f"<variant {self.name}>"

    def decode_claims(self, unverified_token: str, secret: str) -> dict[str, Any]:
        """The claims of a token whose HS256 signature verifies."""
        return decode_claims(unverified_token, secret)

    def effective_principal(
        self, principal: Principal, headers: Mapping[str, str]
    ) -> Principal:
        """Tenant headers never change who the caller is."""
        return principal

    def cross_tenant_error(self) -> ApiError:
        """Another tenant's object is answered exactly like a missing one."""
        return NotFound()

    def agent_for_read(self, scope: TenantScope, agent_id: str) -> Found | None:
        return own(Agent)(scope, agent_id)

    def child_execution(
        self, scope: TenantScope, agent: Agent, execution_id: str
    ) -> Found | None:
        """An execution, only if it is a child of `agent`."""
        row = scope.one(
            Execution, Execution.id == execution_id, Execution.agent_id == agent.id
        )
        return None if row is None else Found(row, row.tenant_id)

    def list_credentials(
        self, scope: TenantScope, limit: int, offset: int
    ) -> tuple[list[Credential], int]:
        statement = scope.select(Credential).order_by(
            Credential.created_at, Credential.id
        )
        return page(scope.session, statement, limit, offset)

    def file_tenant(self, principal: Principal, query: Mapping[str, str]) -> str:
        """Whose storage root a file read goes to: the caller's."""
        return principal.tenant

    def reserve(
        self, scope: TenantScope, quotas: Quotas, kind, period, limit, seed, current
    ) -> Reservation:
        """One quota slot, taken by a single conditional UPDATE (atomic);
        `current` is the count the policy was asked about, already stale."""
        return quotas.reserve(scope.session, scope.tenant_id, kind, period, limit, seed)

    def read_stored(
        self, files: TenantStorage, tenant: str, relative: str, allow: Callable
    ) -> bytes | None:
        """A stored path's bytes: its text allowed by the storage policy
        (`allow`), then read by the tenant-root resolver (no link followed)."""
        allow()
        return files.read_bytes(tenant, relative)

    def tenant_keyset(
        self, keys: TenantKeys, session: Session, tenant: str
    ) -> TenantKeySet:
        """The caller's own tenant keys, bound to its tenant."""
        return keys.keyset(session, tenant)

    def credential_fields(
        self, credential: Credential, view: dict[str, Any]
    ) -> dict[str, Any]:
        """What an answer shows of a credential: the view, nothing of the row."""
        return view


class AgentReadNoTenantCheck(Variant):
    name = "agent_read_no_tenant_check"

    def agent_for_read(self, scope: TenantScope, agent_id: str) -> Found | None:
        row = unscoped_get(scope.sessions, Agent, agent_id)
        return None if row is None else Found(row, scope.tenant_id)


class ForbiddenNot404(Variant):
    name = "forbidden_not_404"

    def cross_tenant_error(self) -> ApiError:
        return Forbidden()


class TrustTenantHeader(Variant):
    name = "trust_tenant_header"

    def effective_principal(
        self, principal: Principal, headers: Mapping[str, str]
    ) -> Principal:
        claimed = headers.get("x-tenant-id")
        return (
            replace(principal, tenant=claimed) if is_tenant_id(claimed) else principal
        )


class UnverifiedJwt(Variant):
    name = "unverified_jwt"

    def decode_claims(self, unverified_token: str, secret: str) -> dict[str, Any]:
        return decode_claims(unverified_token, secret, verify_signature=False)


class AlgNoneAccepted(Variant):
    name = "alg_none_accepted"

    def decode_claims(self, unverified_token: str, secret: str) -> dict[str, Any]:
        algorithm = jwt.get_unverified_header(unverified_token).get("alg")
        unsigned = isinstance(algorithm, str) and algorithm.lower() == "none"
        return decode_claims(unverified_token, secret, verify_signature=not unsigned)


class ChildViaWrongParent(Variant):
    name = "child_via_wrong_parent"

    def child_execution(
        self, scope: TenantScope, agent: Agent, execution_id: str
    ) -> Found | None:
        row = unscoped_get(scope.sessions, Execution, execution_id)
        return None if row is None else Found(row, scope.tenant_id)


class CredentialListLeak(Variant):
    name = "credential_list_leak"

    def list_credentials(
        self, scope: TenantScope, limit: int, offset: int
    ) -> tuple[list[Credential], int]:
        statement = select(Credential).order_by(Credential.created_at, Credential.id)
        with scope.sessions() as session, Tenancy.operator_scope(session, "listing"):
            rows, total = page(session, statement, limit, offset)
            session.expunge_all()
            return rows, total


class FileCrossTenant(Variant):
    name = "file_cross_tenant"

    def file_tenant(self, principal: Principal, query: Mapping[str, str]) -> str:
        chosen = query.get("tenant")
        return chosen if is_tenant_id(chosen) else principal.tenant


class QuotaReadThenWrite(Variant):
    name = "quota_read_then_write"

    def reserve(
        self, scope: TenantScope, quotas: Quotas, kind, period, limit, seed, current
    ) -> Reservation:
        # Trusts the count it read before asking the policy, and writes it + 1.
        counter = update(QuotaCounter).where(
            QuotaCounter.tenant_id == scope.tenant_id,
            QuotaCounter.kind == kind,
            QuotaCounter.period == period,
        )
        scope.session.execute(counter.values(used=current + 1))  # a lost update
        return Reservation(kind, period, True, current)


class RolesIgnored(Variant):
    name = "roles_ignored"

    def effective_principal(
        self, principal: Principal, headers: Mapping[str, str]
    ) -> Principal:
        return replace(principal, roles=("admin",))  # the token's roles unread


class CredentialRowExposed(Variant):
    name = "credential_row_exposed"

    def credential_fields(
        self, credential: Credential, view: dict[str, Any]
    ) -> dict[str, Any]:
        sealed = base64.b64encode(credential.ciphertext).decode()
        row = {"tenant_id": credential.tenant_id, "key_id": credential.key_id}
        return {**view, **row, "ciphertext": sealed}


class StorageStripsDotdotOnce(Variant):
    name = "storage_strips_dotdot_once"

    def read_stored(
        self, files: TenantStorage, tenant: str, relative: str, allow: Callable
    ) -> bytes | None:
        cleaned = relative.replace("../", "")  # one pass: "....//" becomes "../"
        try:
            return (files.root(tenant) / cleaned).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None


SHARED_KEY = hashlib.sha256(b"tenantguard variant shared_tenant_key").digest()


class SharedTenantKey(Variant):
    name = "shared_tenant_key"

    def tenant_keyset(
        self, keys: TenantKeys, session: Session, tenant: str
    ) -> TenantKeySet:
        shared = DataKey("shared", "k_shared", SHARED_KEY)  # no tenant bound
        return TenantKeySet("shared", shared, ())


VARIANTS: dict[str, Variant] = {
    variant.name: variant
    for variant in (
        Variant(),
        AgentReadNoTenantCheck(),
        ForbiddenNot404(),
        TrustTenantHeader(),
        UnverifiedJwt(),
        AlgNoneAccepted(),
        ChildViaWrongParent(),
        CredentialListLeak(),
        FileCrossTenant(),
        QuotaReadThenWrite(),
        RolesIgnored(),
        CredentialRowExposed(),
        StorageStripsDotdotOnce(),
        SharedTenantKey(),
    )
}
