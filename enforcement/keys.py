"""Per-tenant data keys under a key-encryption key, rotated tenant by tenant.

    KeyEncryptionKey        wraps and unwraps data keys
     ├── LocalKek           AES-256-GCM under a key from a file or a variable
     └── AwsKmsKek          AWS KMS Encrypt/Decrypt (extra `kms`: boto3)
    WrappedKey              one tenant key as stored: ID, state, wrapped bytes
    TenantKeySet            a tenant's unwrapped keys: the primary seals, every
                            kept key opens

Why AES-GCM with key IDs rather than Fernet/MultiFernet: Fernet cannot bind
associated data, and MultiFernet finds the key of a token by trying each in
turn. Here every ciphertext names the key that sealed it and is bound to its
tenant, key and caller context as associated data:

    sealed = 0x01 | len(key_id) | key_id | nonce (12) | AES-GCM(plaintext)
    AAD    = "tenantguard secret|{tenant}|{key_id}|" + context

so a ciphertext copied into another tenant's row (or, with a context such as
the row's ID, into another row) does not open, even under identical key
material. A wrapped data key is bound the same way to its tenant and key ID.

Rotation is per tenant: a new primary key is added and the previous ones are
kept, for opening only, until `reencrypt` has moved every ciphertext of that
tenant to the primary. `reencrypt` works in small batches, each committed on
its own and chosen again from the store ("not yet under the primary"), so it
can be killed at any point and run again without losing or repeating work.

Key material never appears in a `repr`, a log line or an error message; data
keys refuse to be pickled.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from enforcement.errors import TenantGuardError, UsageError

log = logging.getLogger("tenantguard.enforcement")

FORMAT = 1
NONCE_BYTES = 12
KEY_BYTES = 32
FINGERPRINT_HEX = 12
PRIMARY, DECRYPT_ONLY = "primary", "decrypt_only"
KEY_STATES = (PRIMARY, DECRYPT_ONLY)


class KeyUnavailable(TenantGuardError):
    """A key or a sealed value did not open: wrong KEK, wrong tenant, wrong
    row, unknown key or tampering. Deliberately one opaque error."""

    def __init__(self, message: str = "the sealed value does not open") -> None:
        super().__init__(message)


# -- key-encryption keys --------------------------------------------------


@runtime_checkable
class KeyEncryptionKey(Protocol):
    """Wraps tenants' data keys; `context` is bound to the wrapped bytes."""

    name: str

    def wrap(self, data_key: bytes, context: Mapping[str, str]) -> bytes: ...

    def unwrap(self, wrapped: bytes, context: Mapping[str, str]) -> bytes: ...


class LocalKek:
    """A 256-bit AES-GCM key held by the process (from a file or a variable)."""

    def __init__(self, key: bytes, *, name: str = "local") -> None:
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            raise UsageError(
                "a local key-encryption key must be 32 bytes "
                "(64 hex digits, e.g. from `openssl rand -hex 32`)"
            )
        self.name = name
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return f"LocalKek({self.name!r}, [secure])"

    def __reduce__(self):
        raise TypeError("key material cannot be pickled")

    @classmethod
    def from_hex(cls, text: str, *, name: str = "local") -> LocalKek:
        try:
            key = bytes.fromhex(text.strip())
        except ValueError:
            raise UsageError(
                f"the key-encryption key from {name} is not hex; "
                "write 64 hex digits (e.g. `openssl rand -hex 32`)"
            ) from None
        return cls(key, name=name)

    @classmethod
    def from_file(cls, path: Path) -> LocalKek:
        """64 hex digits (surrounding white space allowed) or 32 raw bytes."""
        path = Path(path)
        try:
            content = path.read_bytes()
        except OSError as error:
            raise UsageError(
                f"cannot read the key-encryption key file {str(path)!r}: "
                f"{error.strerror}"
            ) from None
        if len(content) == KEY_BYTES:
            return cls(content, name=f"file {path}")
        return cls.from_hex(content.decode("ascii", "replace"), name=f"file {path}")

    @classmethod
    def from_env(
        cls, variable: str = "TENANTGUARD_KEK", environ: Mapping[str, str] = os.environ
    ) -> LocalKek:
        if not environ.get(variable):
            raise UsageError(f"{variable} is not set; give it 64 hex digits")
        return cls.from_hex(environ[variable], name=f"${variable}")

    def wrap(self, data_key: bytes, context: Mapping[str, str]) -> bytes:
        return _seal(self._aead, data_key, _context_bytes(context))

    def unwrap(self, wrapped: bytes, context: Mapping[str, str]) -> bytes:
        return _open(self._aead, wrapped, _context_bytes(context))


class AwsKmsKek:
    """Data keys wrapped by AWS KMS (`Encrypt`/`Decrypt` with an encryption
    context), for the optional extra `kms` (boto3). The key never leaves KMS.
    Errors are logged by their AWS error code only and raised as KeyUnavailable.
    """

    def __init__(
        self, key_id: str, *, client: Any = None, region_name: str | None = None
    ) -> None:
        if not key_id:
            raise UsageError("AWS KMS needs a key ID, ARN or alias (alias/...)")
        self.key_id = key_id
        self.name = f"aws-kms {key_id}"
        self._client = client if client is not None else _kms_client(region_name)

    def __repr__(self) -> str:
        return f"AwsKmsKek({self.key_id!r})"

    def wrap(self, data_key: bytes, context: Mapping[str, str]) -> bytes:
        answer = self._call(
            "Encrypt", KeyId=self.key_id, Plaintext=data_key, EncryptionContext=context
        )
        return answer["CiphertextBlob"]

    def unwrap(self, wrapped: bytes, context: Mapping[str, str]) -> bytes:
        answer = self._call(
            "Decrypt",
            KeyId=self.key_id,
            CiphertextBlob=wrapped,
            EncryptionContext=dict(context),
        )
        return answer["Plaintext"]

    def _call(self, operation: str, **arguments: Any) -> Mapping[str, Any]:
        method = getattr(self._client, operation.lower())
        try:
            return method(**arguments)
        except Exception as error:  # botocore raises many types; none may leak
            code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
            log.warning(
                "AWS KMS %s failed: %s", operation, code or type(error).__name__
            )
            raise KeyUnavailable("the key service did not open the key") from None


def _kms_client(region_name: str | None) -> Any:
    try:
        import boto3
    except ImportError:
        raise UsageError(
            "AWS KMS needs boto3: pip install 'tenantguard[kms]'"
        ) from None
    return boto3.client("kms", region_name=region_name)


# -- data keys --------------------------------------------------------------


@dataclass(frozen=True)
class WrappedKey:
    """One tenant data key as stored: never usable without the KEK."""

    tenant_id: str
    key_id: str
    wrapped: bytes = field(repr=False)
    state: str = PRIMARY
    created_at: datetime | None = None

    def wrap_context(self) -> dict[str, str]:
        return wrap_context(self.tenant_id, self.key_id)


def wrap_context(tenant_id: str, key_id: str) -> dict[str, str]:
    return {"purpose": "tenantguard data key", "tenant": tenant_id, "key": key_id}


def new_key(kek: KeyEncryptionKey, tenant_id: str, now: datetime) -> WrappedKey:
    """A fresh random data key for `tenant_id`, wrapped under `kek`."""
    key_id = f"k_{secrets.token_hex(8)}"
    data_key = AESGCM.generate_key(bit_length=8 * KEY_BYTES)
    wrapped = kek.wrap(data_key, wrap_context(tenant_id, key_id))
    return WrappedKey(tenant_id, key_id, wrapped, PRIMARY, now)


class DataKey:
    """One unwrapped data key of one tenant. Holds only the AEAD object and a
    derived fingerprint key, never the raw key bytes as an attribute."""

    def __init__(self, tenant_id: str, key_id: str, key: bytes) -> None:
        self.tenant_id = tenant_id
        self.key_id = key_id
        self._aead = AESGCM(key)
        self._fingerprint_key = _derive(key, b"tenantguard credential fingerprint")

    def __repr__(self) -> str:
        return f"DataKey({self.tenant_id!r}, {self.key_id!r}, [secure])"

    def __reduce__(self):
        raise TypeError("key material cannot be pickled")

    def seal(self, plaintext: bytes, context: bytes = b"") -> bytes:
        header = _header(self.key_id)
        associated = _associated(self.tenant_id, self.key_id, context)
        return header + _seal(self._aead, plaintext, associated)

    def open(self, sealed: bytes, context: bytes = b"") -> bytes:
        key_id, body = split_sealed(sealed)
        if key_id != self.key_id:
            raise KeyUnavailable()
        associated = _associated(self.tenant_id, self.key_id, context)
        return _open(self._aead, body, associated)

    def fingerprint(self, secret: bytes) -> str:
        """A short keyed digest that names a secret without revealing it."""
        digest = hmac.new(self._fingerprint_key, secret, hashlib.sha256)
        return digest.hexdigest()[:FINGERPRINT_HEX]


class TenantKeySet:
    """A tenant's keys: the primary seals; the primary and every kept key open."""

    def __init__(self, tenant_id: str, primary: DataKey, keys: Iterable[DataKey]):
        self.tenant_id = tenant_id
        self.primary = primary
        self._keys = {key.key_id: key for key in (primary, *keys)}
        if any(key.tenant_id != tenant_id for key in self._keys.values()):
            raise UsageError("every key of a key set must belong to its tenant")

    def __repr__(self) -> str:
        return (
            f"TenantKeySet({self.tenant_id!r}, primary={self.primary.key_id!r}, "
            f"{len(self._keys)} keys, [secure])"
        )

    def __reduce__(self):
        raise TypeError("key material cannot be pickled")

    @classmethod
    def unwrap(
        cls, kek: KeyEncryptionKey, tenant_id: str, wrapped: Sequence[WrappedKey]
    ) -> TenantKeySet:
        """Unwrap a tenant's stored keys; exactly one must be the primary."""
        primaries = [key for key in wrapped if key.state == PRIMARY]
        if len(primaries) != 1 or any(k.tenant_id != tenant_id for k in wrapped):
            raise KeyUnavailable("the tenant's keys are not in a usable state")
        keys = [_unwrap(kek, key) for key in wrapped]
        primary = next(k for k in keys if k.key_id == primaries[0].key_id)
        return cls(tenant_id, primary, keys)

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def seal(self, plaintext: bytes, context: bytes = b"") -> bytes:
        return self.primary.seal(plaintext, context)

    def open(self, sealed: bytes, context: bytes = b"") -> bytes:
        key_id, _ = split_sealed(sealed)
        key = self._keys.get(key_id)
        if key is None:
            raise KeyUnavailable()
        return key.open(sealed, context)

    def reseal(self, sealed: bytes, context: bytes = b"") -> bytes:
        """`sealed` under the primary key (the same bytes if it already is)."""
        if key_id_of(sealed) == self.primary.key_id:
            return sealed
        return self.seal(self.open(sealed, context), context)

    def fingerprint(self, secret: bytes) -> str:
        return self.primary.fingerprint(secret)


def _unwrap(kek: KeyEncryptionKey, wrapped: WrappedKey) -> DataKey:
    key = kek.unwrap(wrapped.wrapped, wrapped.wrap_context())
    if len(key) != KEY_BYTES:
        raise KeyUnavailable()
    return DataKey(wrapped.tenant_id, wrapped.key_id, key)


def split_sealed(sealed: bytes) -> tuple[str, bytes]:
    """(key ID, nonce + ciphertext) of a sealed value; KeyUnavailable if malformed."""
    if not isinstance(sealed, bytes) or len(sealed) < 2 or sealed[0] != FORMAT:
        raise KeyUnavailable()
    length = sealed[1]
    key_id = sealed[2 : 2 + length]
    if len(key_id) != length or not key_id.isascii():
        raise KeyUnavailable()
    return key_id.decode(), sealed[2 + length :]


def key_id_of(sealed: bytes) -> str:
    return split_sealed(sealed)[0]


def rotation_due(created_at: datetime, interval_days: int, now: datetime) -> bool:
    """Whether a primary key created at `created_at` is older than the interval."""
    return now - created_at >= timedelta(days=interval_days)


def _header(key_id: str) -> bytes:
    encoded = key_id.encode("ascii")
    if not 0 < len(encoded) < 256:
        raise UsageError(f"a key ID must be 1-255 ASCII characters, got {key_id!r}")
    return bytes([FORMAT, len(encoded)]) + encoded


def _associated(tenant_id: str, key_id: str, context: bytes) -> bytes:
    return f"tenantguard secret|{tenant_id}|{key_id}|".encode() + context


def _context_bytes(context: Mapping[str, str]) -> bytes:
    return "|".join(f"{k}={v}" for k, v in sorted(context.items())).encode()


def _derive(key: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        key
    )


def _seal(aead: AESGCM, plaintext: bytes, associated: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + aead.encrypt(nonce, plaintext, associated)


def _open(aead: AESGCM, sealed: bytes, associated: bytes) -> bytes:
    try:
        return aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated)
    except (InvalidTag, ValueError, TypeError):
        raise KeyUnavailable() from None


# -- re-encryption ----------------------------------------------------------


@dataclass(frozen=True)
class SealedRow:
    """One stored ciphertext: its row, the context it is bound to, its bytes."""

    row_id: str
    context: bytes
    sealed: bytes = field(repr=False)


class SecretBatch(Protocol):
    """One transaction of a re-encryption run, as a store provides it."""

    keys: TenantKeySet

    def pending(self, limit: int, exclude: frozenset[str]) -> list[SealedRow]:
        """Rows of the tenant whose ciphertext is not under `keys.primary`,
        but for the rows in `exclude`."""
        ...

    def replace(self, row: SealedRow, sealed: bytes) -> bool:
        """Store `sealed` in place of `row.sealed`, only if it is unchanged."""
        ...


SecretStore = Callable[[str], AbstractContextManager[SecretBatch]]


@dataclass
class Reencryption:
    """What a run of `reencrypt` did."""

    tenant_id: str
    resealed: int = 0
    batches: int = 0
    skipped: int = 0
    finished: bool = False
    unreadable: list[str] = field(default_factory=list)


def reencrypt(
    store: SecretStore,
    tenant_id: str,
    *,
    batch_size: int = 50,
    max_batches: int | None = None,
    pause: float = 0.0,
    on_batch: Callable[[Reencryption], None] | None = None,
) -> Reencryption:
    """Move every ciphertext of `tenant_id` under its primary key, batch by batch.

    `store(tenant_id)` opens one transaction: it commits when the block ends
    without error and rolls back otherwise. Each batch asks the store again
    for rows not yet under the primary key, so a run killed at any point
    (even SIGKILL) loses nothing and a second run finishes the work. A row
    that does not open (tampered, or moved from another tenant or row) is
    left as it is and named in `unreadable`.
    """
    if batch_size < 1:
        raise UsageError(f"batch size must be at least 1, got {batch_size}")
    run = Reencryption(tenant_id)
    while max_batches is None or run.batches < max_batches:
        with store(tenant_id) as batch:
            rows = batch.pending(batch_size, frozenset(run.unreadable))
            for row in rows:
                _reseal_row(batch, row, run)
        if not rows:
            run.finished = True
            break
        run.batches += 1
        if on_batch is not None:
            on_batch(run)
        if pause:
            time.sleep(pause)
    log.info(
        "re-encryption of %s: %d resealed in %d batches, %d unreadable%s",
        tenant_id,
        run.resealed,
        run.batches,
        len(run.unreadable),
        "" if run.finished else " (stopped before the end)",
    )
    return run


def _reseal_row(batch: SecretBatch, row: SealedRow, run: Reencryption) -> None:
    try:
        resealed = batch.keys.reseal(row.sealed, row.context)
    except KeyUnavailable:
        run.unreadable.append(row.row_id)
        return
    if batch.replace(row, resealed):
        run.resealed += 1
    else:  # changed or deleted meanwhile: the next batch looks again
        run.skipped += 1
