"""Tenant keys in the stack's database, and the re-encryption job.

The cryptography is `enforcement.keys`; this module stores each tenant's
wrapped keys in `tenant_keys` (one primary, the rest kept for opening only)
and binds every credential's ciphertext to its tenant and its row ID.

    python -m stack.keys rotate TENANT [--db URL] [--storage-dir DIR]
    python -m stack.keys rotate --due  [--db URL] [--storage-dir DIR]
    python -m stack.keys reencrypt TENANT [--db URL] [--batch-size N] [--pause S]

The key-encryption key comes from the same settings as the stack's
(TENANTGUARD_KEK, TENANTGUARD_KEK_FILE, TENANTGUARD_KMS_KEY_ID, or the secrets
file in the storage directory). `reencrypt` commits every batch on its own and
can be killed and started again at any point; the admin endpoints
`POST /admin/tenants/{id}/keys/rotate` and `.../keys/reencrypt` do the same.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from enforcement import TenantGuardError
from enforcement.keys import (
    DECRYPT_ONLY,
    PRIMARY,
    KeyEncryptionKey,
    KeyUnavailable,
    Reencryption,
    SealedRow,
    TenantKeySet,
    WrappedKey,
    new_key,
    reencrypt,
    rotation_due,
)
from enforcement.tenancy import Tenancy
from stack.audit import AuditEvent, append, detail
from stack.clock import Clock, iso, utc_now
from stack.db import Credential, Tenant, TenantKey

__all__ = ["KeyUnavailable", "TenantKeys", "credential_context"]

log = logging.getLogger("tenantguard.stack")


def credential_context(credential_id: str) -> bytes:
    """What a credential's ciphertext is bound to besides its tenant and key."""
    return f"credential|{credential_id}".encode()


@dataclass(frozen=True)
class Rotation:
    tenant_id: str
    primary: str
    previous: tuple[str, ...]


class TenantKeys:
    """Every tenant's keys, wrapped by one key-encryption key."""

    def __init__(self, kek: KeyEncryptionKey) -> None:
        self.kek = kek

    def __repr__(self) -> str:
        return f"TenantKeys({self.kek!r})"

    def provision(self, session: Session, tenant_id: str, now: datetime) -> str:
        """Give a new tenant its first (primary) key; returns its ID."""
        wrapped = new_key(self.kek, tenant_id, now)
        session.add(_row(wrapped, self.kek))
        return wrapped.key_id

    def keyset(self, session: Session, tenant_id: str) -> TenantKeySet:
        """The tenant's unwrapped keys (the session must be in its context)."""
        rows = session.scalars(
            select(TenantKey).where(TenantKey.tenant_id == tenant_id)
        ).all()
        wrapped = [_wrapped(row) for row in rows]
        return TenantKeySet.unwrap(self.kek, tenant_id, wrapped)

    def primary_id(self, session: Session, tenant_id: str) -> str | None:
        return session.scalar(
            select(TenantKey.key_id).where(
                TenantKey.tenant_id == tenant_id, TenantKey.state == PRIMARY
            )
        )

    def rotate(self, session: Session, tenant_id: str, now: datetime) -> Rotation:
        """A new primary key for `tenant_id`; the previous ones open only.

        Only this tenant's rows are touched. The caller holds the tenant's lock
        (`lock_tenant`), commits with the audit record, and runs
        `reencrypt_credentials` when it suits.
        """
        statement = select(TenantKey).where(TenantKey.tenant_id == tenant_id)
        rows = session.scalars(statement).all()
        for row in rows:
            row.state = DECRYPT_ONLY
        wrapped = new_key(self.kek, tenant_id, now)
        session.add(_row(wrapped, self.kek))
        previous = tuple(sorted(row.key_id for row in rows))
        log.info("tenant %s: new primary key %s", tenant_id, wrapped.key_id)
        return Rotation(tenant_id, wrapped.key_id, previous)

    def status(self, session: Session, tenant: Tenant, now: datetime) -> dict[str, Any]:
        """What the operator may know about a tenant's keys: never key material."""
        rows = session.scalars(
            select(TenantKey)
            .where(TenantKey.tenant_id == tenant.id)
            .order_by(TenantKey.created_at, TenantKey.key_id)
        ).all()
        primary = next((row for row in rows if row.state == PRIMARY), None)
        pending = _pending_count(session, tenant.id, primary.key_id if primary else "")
        due = primary is not None and rotation_due(
            primary.created_at, tenant.key_rotation_days, now
        )
        return {
            "primary": primary.key_id if primary else None,
            "keys": [_key_view(row) for row in rows],
            "rotation_due": due,
            "pending_reencryption": pending,
        }


def _row(wrapped: WrappedKey, kek: KeyEncryptionKey) -> TenantKey:
    return TenantKey(
        tenant_id=wrapped.tenant_id,
        key_id=wrapped.key_id,
        state=wrapped.state,
        wrapped_key=wrapped.wrapped,
        kek=kek.name[:300],
        created_at=wrapped.created_at,
    )


def _wrapped(row: TenantKey) -> WrappedKey:
    return WrappedKey(
        row.tenant_id, row.key_id, row.wrapped_key, row.state, row.created_at
    )


def _key_view(row: TenantKey) -> dict[str, Any]:
    return {"id": row.key_id, "state": row.state, "created_at": iso(row.created_at)}


def _pending_count(session: Session, tenant_id: str, primary_id: str) -> int:
    statement = select(func.count()).select_from(Credential)
    statement = statement.where(
        Credential.tenant_id == tenant_id, Credential.key_id != primary_id
    )
    return session.scalar(statement) or 0


def lock_tenant(session: Session, tenant_id: str) -> bool:
    """Take the tenant row's write lock for this transaction (a row lock on
    PostgreSQL, the database's write lock on SQLite) as its first statement,
    so key changes of one tenant never interleave; False if there is none."""
    statement = update(Tenant).where(Tenant.id == tenant_id)
    done = session.execute(statement.values(quota_epoch=Tenant.quota_epoch + 1))
    return done.rowcount == 1


# -- re-encryption over the credentials table ---------------------------------


class _CredentialBatch:
    """One transaction of a re-encryption run, in the tenant's context."""

    def __init__(self, session: Session, tenant_id: str, keys: TenantKeySet) -> None:
        self.session, self.tenant_id, self.keys = session, tenant_id, keys

    def pending(self, limit: int, exclude: frozenset[str]) -> list[SealedRow]:
        criteria = [
            Credential.tenant_id == self.tenant_id,
            Credential.key_id != self.keys.primary.key_id,
        ]
        if exclude:
            criteria.append(Credential.id.not_in(sorted(exclude)))
        statement = (
            select(Credential.id, Credential.ciphertext)
            .where(*criteria)
            .order_by(Credential.id)
            .limit(limit)
        )
        return [
            SealedRow(row.id, credential_context(row.id), row.ciphertext)
            for row in self.session.execute(statement)
        ]

    def replace(self, row: SealedRow, sealed: bytes) -> bool:
        """Compare-and-swap: only a row still holding `row.sealed` changes."""
        table = Credential.__table__  # Core: one plain UPDATE, no ORM bookkeeping
        statement = (
            update(table)
            .where(
                table.c.tenant_id == self.tenant_id,
                table.c.id == row.row_id,
                table.c.ciphertext == row.sealed,
            )
            .values(ciphertext=sealed, key_id=self.keys.primary.key_id)
        )
        return self.session.execute(statement).rowcount == 1


def credential_store(sessions: sessionmaker, keys: TenantKeys):
    """`enforcement.keys.SecretStore` over the credentials table."""

    @contextmanager
    def batch(tenant_id: str) -> Iterator[_CredentialBatch]:
        with sessions() as session:
            Tenancy.enter(session, tenant_id)
            lock_tenant(session, tenant_id)
            yield _CredentialBatch(session, tenant_id, keys.keyset(session, tenant_id))
            session.commit()

    return batch


def reencrypt_credentials(
    sessions: sessionmaker,
    keys: TenantKeys,
    tenant_id: str,
    *,
    now: datetime,
    actor: str = "operator",
    request_id: str | None = None,
    batch_size: int = 50,
    max_batches: int | None = None,
    pause: float = 0.0,
    on_batch: Callable[[Reencryption], None] | None = None,
) -> Reencryption:
    """Re-encrypt a tenant's credentials under its primary key; audited."""
    run = reencrypt(
        credential_store(sessions, keys),
        tenant_id,
        batch_size=batch_size,
        max_batches=max_batches,
        pause=pause,
        on_batch=on_batch,
    )
    events = [
        _unreadable_event(tenant_id, row_id, request_id) for row_id in run.unreadable
    ]
    events.append(_reencrypted_event(run, actor, request_id))
    with sessions() as session:
        for event in events:
            append(session, event, now)
        session.commit()
    return run


def _unreadable_event(tenant_id: str, row_id: str, request_id: str | None):
    return AuditEvent(
        event="decryption_failed",
        decision="deny",
        reason="ciphertext_invalid",
        request_id=request_id,
        actor_user="operator",
        action="reencrypt",
        resource_type="credential",
        resource_id=row_id,
        target_tenant=tenant_id,
    )


def _reencrypted_event(run: Reencryption, actor: str, request_id: str | None):
    return AuditEvent(
        event="key_rotation",
        decision="allow",
        reason="reencrypted" if run.finished else "reencryption_stopped",
        request_id=request_id,
        actor_user=actor,
        action="reencrypt",
        resource_type="key",
        resource_id=run.tenant_id,
        target_tenant=run.tenant_id,
        detail=detail(
            resealed=run.resealed,
            batches=run.batches,
            unreadable=len(run.unreadable),
            finished=run.finished,
        ),
    )


def rotate_tenant(
    sessions: sessionmaker,
    keys: TenantKeys,
    tenant_id: str,
    *,
    now: datetime,
    actor: str = "operator",
    reason: str = "operator",
    request_id: str | None = None,
) -> Rotation | None:
    """Rotate one tenant's key and audit it, in one transaction; None if the
    tenant does not exist."""
    with sessions() as session:
        Tenancy.enter(session, tenant_id)
        if not lock_tenant(session, tenant_id):
            return None
        rotation = keys.rotate(session, tenant_id, now)
        append(session, rotation_event(rotation, actor, reason, request_id), now)
        session.commit()
    return rotation


def rotation_event(
    rotation: Rotation, actor: str, reason: str, request_id: str | None
) -> AuditEvent:
    return AuditEvent(
        event="key_rotation",
        decision="allow",
        reason=reason,
        request_id=request_id,
        actor_user=actor,
        action="rotate",
        resource_type="key",
        resource_id=rotation.primary,
        target_tenant=rotation.tenant_id,
        detail=detail(primary=rotation.primary, previous=list(rotation.previous)),
    )


def due_tenants(sessions: sessionmaker, now: datetime) -> list[str]:
    """Tenants whose primary key is older than their rotation interval."""
    with sessions() as session, Tenancy.operator_scope(session, "rotation check"):
        rows = session.execute(
            select(Tenant.id, Tenant.key_rotation_days, TenantKey.created_at).join(
                TenantKey,
                (TenantKey.tenant_id == Tenant.id) & (TenantKey.state == PRIMARY),
            )
        ).all()
    return sorted(
        tenant for tenant, days, created in rows if rotation_due(created, days, now)
    )


# -- the command line ------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tenantguard keys", description="Rotate tenants' keys; re-encrypt."
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    rotate = actions.add_parser("rotate", help="give a tenant a new primary key")
    target = rotate.add_mutually_exclusive_group(required=True)
    target.add_argument("tenant", nargs="?", help="the tenant ID")
    target.add_argument(
        "--due", action="store_true", help="every tenant whose interval has passed"
    )
    job = actions.add_parser(
        "reencrypt", help="move a tenant's credentials to its primary key"
    )
    job.add_argument("tenant", help="the tenant ID")
    job.add_argument("--batch-size", type=int, default=50)
    job.add_argument(
        "--pause", type=float, default=0.0, help="seconds between batches (throttle)"
    )
    job.add_argument(
        "--progress", action="store_true", help="print a line per committed batch"
    )
    for action in (rotate, job):
        action.add_argument("--db", dest="db_url", help="the stack's database URL")
        action.add_argument("--storage-dir", help="the stack's storage directory")
    return parser


def main(argv: Sequence[str] | None = None, *, clock: Clock = utc_now) -> int:
    options = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        sessions, keys, close = _open(options)
        try:
            if options.action == "rotate":
                return _rotate(options, sessions, keys, clock)
            return _reencrypt(options, sessions, keys, clock)
        finally:
            close()
    except TenantGuardError as error:
        print(f"tenantguard keys: {error}", file=sys.stderr)
        return 2


def _open(options: argparse.Namespace):
    # Imported here: the stack's settings import this module's neighbours.
    from stack.db import connect, create_schema, guard
    from stack.settings import Settings

    settings = Settings.from_env(db_url=options.db_url, storage_dir=options.storage_dir)
    database = connect(settings.db_url)
    sessions = create_schema(database)
    guard(database, sessions)
    return sessions, TenantKeys(settings.kek()), database.dispose


def _rotate(options, sessions, keys: TenantKeys, clock: Clock) -> int:
    now = clock()
    tenants = due_tenants(sessions, now) if options.due else [options.tenant]
    for tenant_id in tenants:
        rotation = rotate_tenant(
            sessions, keys, tenant_id, now=now, actor="cli",
            reason="rotation_due" if options.due else "operator",
        )  # fmt: skip
        if rotation is None:
            print(f"tenantguard keys: no tenant {tenant_id!r}", file=sys.stderr)
            return 1
        print(f"{tenant_id}: primary key {rotation.primary}", flush=True)
    return 0


def _print_batch(run: Reencryption) -> None:
    print(f"batch {run.batches}: {run.resealed} resealed", flush=True)


def _reencrypt(options, sessions, keys: TenantKeys, clock: Clock) -> int:
    print(f"re-encrypting {options.tenant}", flush=True)
    run = reencrypt_credentials(
        sessions, keys, options.tenant, now=clock(), actor="cli",
        batch_size=options.batch_size, pause=options.pause,
        on_batch=_print_batch if options.progress else None,
    )  # fmt: skip
    print(
        f"{options.tenant}: {run.resealed} resealed in {run.batches} batches, "
        f"{len(run.unreadable)} unreadable",
        flush=True,
    )
    return 1 if run.unreadable else 0


if __name__ == "__main__":
    sys.exit(main())
