"""Per-tenant data keys, and credentials sealed under them.

Each tenant gets a random 256-bit data key when it is created. The key is
stored only wrapped: AES-GCM under the stack's key-encryption key (KEK), with
the tenant ID and key ID as associated data, so a wrapped key copied to another
tenant's row does not unwrap. A credential is sealed with AES-GCM under its
tenant's data key with the tenant ID as associated data, so ciphertext moved
to another tenant's row does not open either. Key material never appears in a
`repr` or a log line; a secret is identified only by its fingerprint.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from enforcement import TenantGuardError

NONCE_BYTES = 12
FINGERPRINT_HEX = 12


class KeyUnavailable(TenantGuardError):
    """A key or a sealed value did not open: wrong KEK, wrong tenant or tampering."""


class KeyRing:
    """Wraps and unwraps tenants' data keys under the key-encryption key."""

    def __init__(self, key_encryption_key: bytes) -> None:
        self._kek = AESGCM(key_encryption_key)

    def __repr__(self) -> str:
        return "KeyRing([secure])"

    def new_tenant_key(self, tenant_id: str) -> tuple[str, bytes]:
        """A fresh data key for `tenant_id`: its ID and its wrapped form."""
        key_id = f"k_{secrets.token_hex(8)}"
        data_key = AESGCM.generate_key(bit_length=256)
        return key_id, _seal(self._kek, data_key, _wrap_context(tenant_id, key_id))

    def tenant_key(self, tenant_id: str, key_id: str, wrapped: bytes) -> TenantKey:
        data_key = _open(self._kek, wrapped, _wrap_context(tenant_id, key_id))
        return TenantKey(tenant_id, key_id, data_key)


class TenantKey:
    """One tenant's unwrapped data key, held only for the request that needs it."""

    def __init__(self, tenant_id: str, key_id: str, data_key: bytes) -> None:
        self.tenant_id = tenant_id
        self.key_id = key_id
        self._aead = AESGCM(data_key)
        self._fingerprint_key = _derive(data_key, b"tenantguard credential fingerprint")

    def __repr__(self) -> str:
        return f"TenantKey({self.tenant_id!r}, {self.key_id!r}, [secure])"

    def seal(self, secret: str) -> bytes:
        return _seal(self._aead, secret.encode(), self.tenant_id.encode())

    def open(self, sealed: bytes) -> str:
        return _open(self._aead, sealed, self.tenant_id.encode()).decode()

    def fingerprint(self, secret: str) -> str:
        """A short keyed digest that names a secret without revealing it."""
        digest = hmac.new(self._fingerprint_key, secret.encode(), hashlib.sha256)
        return digest.hexdigest()[:FINGERPRINT_HEX]


def _wrap_context(tenant_id: str, key_id: str) -> bytes:
    return f"tenantguard data key|{tenant_id}|{key_id}".encode()


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
    except (InvalidTag, ValueError):
        raise KeyUnavailable("the sealed value does not open with this key") from None
