"""Tenant keys: wrapped under a KEK, bound to their tenant, rotated per tenant."""

from __future__ import annotations

import base64
import logging
import pickle
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from enforcement.errors import UsageError
from enforcement.keys import (
    DECRYPT_ONLY,
    AwsKmsKek,
    DataKey,
    KeyUnavailable,
    LocalKek,
    SealedRow,
    TenantKeySet,
    WrappedKey,
    key_id_of,
    new_key,
    reencrypt,
    rotation_due,
)

KEK_BYTES = bytes(range(32))
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def kek() -> LocalKek:
    return LocalKek(KEK_BYTES)


def keyset(kek, tenant: str, *wrapped: WrappedKey) -> TenantKeySet:
    return TenantKeySet.unwrap(
        kek, tenant, list(wrapped) or [new_key(kek, tenant, NOW)]
    )


def rotated(kek, tenant: str, keys: list[WrappedKey]) -> list[WrappedKey]:
    demoted = [WrappedKey(k.tenant_id, k.key_id, k.wrapped, DECRYPT_ONLY) for k in keys]
    return [*demoted, new_key(kek, tenant, NOW)]


def test_sealed_secret_opens_with_its_tenant_keys(kek):
    keys = keyset(kek, "acme")

    assert keys.open(keys.seal(b"s3cret")) == b"s3cret"


def test_another_tenants_keys_do_not_open_it(kek):
    sealed = keyset(kek, "acme").seal(b"s3cret")

    with pytest.raises(KeyUnavailable):
        keyset(kek, "globex").open(sealed)


def test_ciphertext_moved_to_another_tenant_does_not_open_under_the_same_key():
    material = bytes(range(32))  # the very same key material and key ID
    sealed = DataKey("acme", "k_1", material).seal(b"s3cret")

    with pytest.raises(KeyUnavailable):
        DataKey("globex", "k_1", material).open(sealed)


def test_ciphertext_moved_to_another_row_does_not_open(kek):
    keys = keyset(kek, "acme")
    sealed = keys.seal(b"s3cret", b"credential|cr_1")

    with pytest.raises(KeyUnavailable):
        keys.open(sealed, b"credential|cr_2")


def test_wrapped_key_copied_to_another_tenant_does_not_unwrap(kek):
    wrapped = new_key(kek, "acme", NOW)
    copied = WrappedKey("globex", wrapped.key_id, wrapped.wrapped)

    with pytest.raises(KeyUnavailable):
        TenantKeySet.unwrap(kek, "globex", [copied])


def test_a_wrong_kek_does_not_unwrap(kek):
    wrapped = new_key(kek, "acme", NOW)

    with pytest.raises(KeyUnavailable):
        TenantKeySet.unwrap(LocalKek(bytes([1]) * 32), "acme", [wrapped])


@pytest.mark.parametrize(
    "where", [0, 1, 5, -1], ids=["version", "length", "key-id", "tag"]
)
def test_tampered_ciphertext_does_not_open(kek, where):
    keys = keyset(kek, "acme")
    sealed = bytearray(keys.seal(b"s3cret"))
    sealed[where] ^= 1

    with pytest.raises(KeyUnavailable):
        keys.open(bytes(sealed))


@pytest.mark.parametrize("sealed", [b"", b"\x01", b"\x01\x09k_", b"\x02" * 40, "text"])
def test_malformed_ciphertext_is_one_opaque_error(kek, sealed):
    with pytest.raises(KeyUnavailable, match="^the sealed value does not open$"):
        keyset(kek, "acme").open(sealed)


def test_a_key_set_needs_exactly_one_primary(kek):
    first, second = new_key(kek, "acme", NOW), new_key(kek, "acme", NOW)

    with pytest.raises(KeyUnavailable):
        TenantKeySet.unwrap(kek, "acme", [first, second])
    with pytest.raises(KeyUnavailable):
        TenantKeySet.unwrap(kek, "acme", rotated(kek, "acme", [first])[:1])


def test_rotation_seals_under_the_new_key_and_opens_the_old(kek):
    first = [new_key(kek, "acme", NOW)]
    before = keyset(kek, "acme", *first)
    old = before.seal(b"old secret")

    after = keyset(kek, "acme", *rotated(kek, "acme", first))
    new = after.seal(b"new secret")

    assert key_id_of(old) == before.primary.key_id != after.primary.key_id
    assert key_id_of(new) == after.primary.key_id
    assert after.open(old) == b"old secret"
    assert key_id_of(after.reseal(old)) == after.primary.key_id
    assert after.open(after.reseal(old)) == b"old secret"
    assert after.reseal(new) == new  # already under the primary: unchanged


def test_rotation_is_due_after_the_interval():
    created = NOW - timedelta(days=90)

    assert rotation_due(created, 90, NOW)
    assert not rotation_due(created + timedelta(seconds=1), 90, NOW)


# -- the key-encryption keys --------------------------------------------------


def test_local_kek_from_a_hex_file_and_a_raw_file(tmp_path):
    hex_file, raw_file = tmp_path / "kek.hex", tmp_path / "kek.bin"
    hex_file.write_text(KEK_BYTES.hex() + "\n")
    raw_file.write_bytes(KEK_BYTES)
    wrapped = new_key(LocalKek(KEK_BYTES), "acme", NOW)

    for kek in (LocalKek.from_file(hex_file), LocalKek.from_file(raw_file)):
        assert TenantKeySet.unwrap(kek, "acme", [wrapped]).primary.key_id


def test_local_kek_from_the_environment():
    kek = LocalKek.from_env("KEK", {"KEK": KEK_BYTES.hex()})

    assert kek.name == "$KEK"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: LocalKek(b"short"), "must be 32 bytes"),
        (lambda tmp: LocalKek.from_hex("zz" * 32), "is not hex"),
        (lambda tmp: LocalKek.from_env("KEK", {}), "KEK is not set"),
        (lambda tmp: LocalKek.from_file(tmp / "missing"), "cannot read"),
        (lambda tmp: AwsKmsKek(""), "needs a key ID"),
    ],
    ids=["short", "not-hex", "unset", "no-file", "no-kms-key"],
)
def test_a_bad_kek_setting_says_how_to_fix_it(tmp_path, make, message):
    with pytest.raises(UsageError, match=message):
        make(tmp_path)


def test_aws_kms_wraps_with_the_tenant_as_encryption_context(monkeypatch):
    import moto  # the dev extra installs it; without it this test fails, never skips

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with moto.mock_aws():
        import boto3

        client = boto3.client("kms")
        key_id = client.create_key()["KeyMetadata"]["KeyId"]
        kek = AwsKmsKek(key_id, client=client)
        wrapped = new_key(kek, "acme", NOW)
        sealed = TenantKeySet.unwrap(kek, "acme", [wrapped]).seal(b"s3cret")

        assert TenantKeySet.unwrap(kek, "acme", [wrapped]).open(sealed) == b"s3cret"
        moved = WrappedKey("globex", wrapped.key_id, wrapped.wrapped)
        with pytest.raises(KeyUnavailable, match="did not open the key"):
            TenantKeySet.unwrap(kek, "globex", [moved])


# -- key material stays out of sight --------------------------------------------


def material_forms(secret: bytes) -> list[str]:
    return [secret.hex(), repr(secret), base64.b64encode(secret).decode()]


def test_key_material_is_in_no_repr(kek):
    wrapped = new_key(kek, "acme", NOW)
    material = kek.unwrap(wrapped.wrapped, wrapped.wrap_context())
    keys = TenantKeySet.unwrap(kek, "acme", [wrapped])

    shown = " ".join(repr(o) for o in (kek, wrapped, keys, keys.primary))
    for form in material_forms(material) + material_forms(KEK_BYTES):
        assert form not in shown
    assert material_forms(wrapped.wrapped)[0] not in shown
    assert "secure" in repr(keys) and "secure" in repr(kek)


@pytest.mark.parametrize("which", ["kek", "keyset", "data_key"])
def test_key_objects_refuse_to_be_pickled(kek, which):
    keys = keyset(kek, "acme")
    target = {"kek": kek, "keyset": keys, "data_key": keys.primary}[which]

    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(target)


def test_key_material_is_in_no_log_line_or_error(kek, caplog):
    store = MemoryStore(kek, "acme", 30)
    materials = store.rotate()

    with caplog.at_level(logging.DEBUG):
        run = reencrypt(store, "acme", batch_size=7)
        with pytest.raises(KeyUnavailable) as refused:
            keyset(kek, "globex").open(store.rows["r0"])

    assert run.finished and run.resealed == 30
    logged = caplog.text + str(refused.value) + repr(refused.value)
    for material in [KEK_BYTES, *materials]:
        for form in material_forms(material):
            assert form not in logged


# -- re-encryption ------------------------------------------------------------


class MemoryStore:
    """A SecretStore over a dict, with transactions that roll back on error."""

    def __init__(self, kek, tenant: str, count: int) -> None:
        self.kek, self.tenant = kek, tenant
        self.wrapped = [new_key(kek, tenant, NOW)]
        keys = TenantKeySet.unwrap(kek, tenant, self.wrapped)
        self.plain = {f"r{i}": f"secret {i}".encode() for i in range(count)}
        self.rows = {
            row: keys.seal(value, row.encode()) for row, value in self.plain.items()
        }
        self.fail_after: int | None = None

    def rotate(self) -> list[bytes]:
        self.wrapped = rotated(self.kek, self.tenant, self.wrapped)
        return [self.kek.unwrap(w.wrapped, w.wrap_context()) for w in self.wrapped]

    def __call__(self, tenant: str):
        return self._batch(tenant)

    @contextmanager
    def _batch(self, tenant: str):
        batch = _MemoryBatch(self, TenantKeySet.unwrap(self.kek, tenant, self.wrapped))
        yield batch
        self.rows.update(batch.writes)  # commit


class _MemoryBatch:
    def __init__(self, store: MemoryStore, keys: TenantKeySet) -> None:
        self.store, self.keys, self.writes = store, keys, {}

    def pending(self, limit, exclude):
        primary = self.keys.primary.key_id
        rows = [
            SealedRow(row, row.encode(), sealed)
            for row, sealed in sorted(self.store.rows.items())
            if key_id_of(sealed) != primary and row not in exclude
        ]
        return rows[:limit]

    def replace(self, row, sealed):
        if self.store.fail_after is not None:
            if self.store.fail_after == 0:
                raise RuntimeError("killed mid-batch")
            self.store.fail_after -= 1
        self.writes[row.row_id] = sealed
        return True


def opened(store: MemoryStore) -> dict[str, bytes]:
    keys = TenantKeySet.unwrap(store.kek, store.tenant, store.wrapped)
    return {row: keys.open(sealed, row.encode()) for row, sealed in store.rows.items()}


def test_reencrypt_moves_every_row_to_the_primary(kek):
    store = MemoryStore(kek, "acme", 25)
    store.rotate()

    run = reencrypt(store, "acme", batch_size=4)

    primary = store.wrapped[-1].key_id
    assert (run.finished, run.resealed, run.batches) == (True, 25, 7)
    assert {key_id_of(sealed) for sealed in store.rows.values()} == {primary}
    assert opened(store) == store.plain


def test_reencrypt_interrupted_mid_batch_loses_nothing_and_resumes(kek):
    store = MemoryStore(kek, "acme", 25)
    store.rotate()
    store.fail_after = 10  # the third batch dies after two rows

    with pytest.raises(RuntimeError):
        reencrypt(store, "acme", batch_size=4)

    assert opened(store) == store.plain  # old and new keys both open
    store.fail_after = None
    run = reencrypt(store, "acme", batch_size=4)
    assert run.finished and run.resealed == 25 - 8
    assert opened(store) == store.plain


def test_reencrypt_stops_after_max_batches_and_resumes(kek):
    store = MemoryStore(kek, "acme", 10)
    store.rotate()

    first = reencrypt(store, "acme", batch_size=3, max_batches=2)
    second = reencrypt(store, "acme", batch_size=3)

    assert (first.finished, first.resealed) == (False, 6)
    assert (second.finished, second.resealed) == (True, 4)


def test_reencrypt_leaves_a_row_that_does_not_open_and_names_it(kek):
    store = MemoryStore(kek, "acme", 5)
    foreign = keyset(kek, "globex").seal(b"theirs", b"r2")
    store.rows["r2"] = foreign
    store.rotate()

    run = reencrypt(store, "acme", batch_size=2)

    assert run.finished and run.unreadable == ["r2"]
    assert store.rows["r2"] == foreign
    assert run.resealed == 4


def test_reencrypt_refuses_a_batch_size_below_one(kek):
    with pytest.raises(UsageError, match="batch size"):
        reencrypt(MemoryStore(kek, "acme", 1), "acme", batch_size=0)


def test_a_key_set_holds_only_its_tenants_keys():
    with pytest.raises(UsageError):
        TenantKeySet(
            "acme",
            DataKey("acme", "k_1", bytes(32)),
            [DataKey("globex", "k_2", bytes(32))],
        )
