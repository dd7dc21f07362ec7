"""Tenant keys: wrapped under the KEK, bound to their tenant."""

from __future__ import annotations

import pytest

from stack.keys import KeyRing, KeyUnavailable, TenantKey

KEK = bytes(32)


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing(KEK)


def _key(ring: KeyRing, tenant: str):
    key_id, wrapped = ring.new_tenant_key(tenant)
    return ring.tenant_key(tenant, key_id, wrapped)


def test_sealed_secret_opens_with_its_tenant_key(ring):
    key = _key(ring, "acme")

    assert key.open(key.seal("s3cret")) == "s3cret"


def test_another_tenants_key_does_not_open_it(ring):
    sealed = _key(ring, "acme").seal("s3cret")

    with pytest.raises(KeyUnavailable):
        _key(ring, "globex").open(sealed)


def test_ciphertext_moved_to_another_tenant_does_not_open():
    data_key = bytes(range(32))  # even with the very same key material
    sealed = TenantKey("acme", "k_1", data_key).seal("s3cret")

    with pytest.raises(KeyUnavailable):
        TenantKey("globex", "k_1", data_key).open(sealed)


def test_wrapped_key_copied_to_another_tenant_does_not_unwrap(ring):
    key_id, wrapped = ring.new_tenant_key("acme")

    with pytest.raises(KeyUnavailable):
        ring.tenant_key("globex", key_id, wrapped)


def test_a_wrong_kek_does_not_unwrap(ring):
    key_id, wrapped = ring.new_tenant_key("acme")

    with pytest.raises(KeyUnavailable):
        KeyRing(bytes([1]) * 32).tenant_key("acme", key_id, wrapped)


def test_tampered_ciphertext_does_not_open(ring):
    key = _key(ring, "acme")
    sealed = bytearray(key.seal("s3cret"))
    sealed[-1] ^= 1

    with pytest.raises(KeyUnavailable):
        key.open(bytes(sealed))


def test_key_material_is_in_no_repr(ring):
    key_id, wrapped = ring.new_tenant_key("acme")
    key = ring.tenant_key("acme", key_id, wrapped)

    assert "secure" in repr(ring) and "secure" in repr(key)
    assert KEK.hex() not in repr(ring)
