"""Per-tenant key rotation through the stack: one tenant's rotation touches no
other tenant's bytes, and its own old ciphertexts open before, during and
after re-encryption. A ciphertext moved between rows does not open."""

from __future__ import annotations

import base64
import json
import logging
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, update

from enforcement.keys import key_id_of, wrap_context
from enforcement.tenancy import Tenancy
from stack.db import Credential, TenantKey
from stack.keys import main as keys_main

COUNT = 12


def secrets_of(tenant: str) -> dict[str, str]:
    return {f"{tenant}-{n}": f"sk-{tenant}-secret-{n}" for n in range(COUNT)}


def store(client, tenant: str) -> dict[str, str]:
    """Credential ID -> its secret, created through the API."""
    created = {}
    for name, secret in secrets_of(tenant).items():
        answer = client.post("/v1/credentials", json={"name": name, "secret": secret})
        assert answer.status_code == 201, answer.text
        created[answer.json()["id"]] = secret
    return created


def rows(stack, tenant: str) -> dict[str, tuple[str, bytes, str]]:
    """The stored bytes, read straight from the database (no tenant guard)."""
    engine = create_engine(stack.settings.db_url)
    with engine.connect() as connection:
        found = connection.execute(
            select(
                Credential.id,
                Credential.key_id,
                Credential.ciphertext,
                Credential.fingerprint,
            ).where(Credential.tenant_id == tenant)
        ).all()
        keys = connection.execute(
            select(TenantKey.key_id, TenantKey.state, TenantKey.wrapped_key).where(
                TenantKey.tenant_id == tenant
            )
        ).all()
    engine.dispose()
    return {row.id: (row.key_id, row.ciphertext, row.fingerprint) for row in found} | {
        f"key {k.key_id}": (k.state, k.wrapped_key, "") for k in keys
    }


def all_open(client, credentials: dict[str, str]) -> bool:
    for credential_id, secret in credentials.items():
        path = f"/v1/credentials/{credential_id}/verify"
        answer = client.post(path, json={"secret": secret})
        assert answer.status_code == 200, answer.text
        if answer.json() != {"match": True}:
            return False
    return True


def rotate(stack, tenant: str):
    answer = stack.client.post(
        f"/admin/tenants/{tenant}/keys/rotate", headers=stack.operator
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def reencrypt(stack, tenant: str, **params):
    answer = stack.client.post(
        f"/admin/tenants/{tenant}/keys/reencrypt", params=params, headers=stack.operator
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def key_ids(stack, tenant: str) -> set[str]:
    return {v[0] for k, v in rows(stack, tenant).items() if not k.startswith("key ")}


def test_rotating_one_tenant_leaves_the_other_byte_identical_and_its_own_readable(
    stack, acme, globex
):
    mine, theirs = store(acme, "acme"), store(globex, "globex")
    globex_before = rows(stack, "globex")
    old_primary = stack.client.get("/admin/tenants/acme/keys", headers=stack.operator)
    assert all_open(acme, mine)  # before

    rotated = rotate(stack, "acme")
    assert rotated["previous"] == [old_primary.json()["primary"]]
    assert rows(stack, "globex") == globex_before
    assert all_open(acme, mine)  # rotated, nothing re-encrypted yet

    partial = reencrypt(stack, "acme", batch_size=5, max_batches=1)
    assert partial == {"resealed": 5, "batches": 1, "unreadable": 0, "finished": False}
    assert key_ids(stack, "acme") == {rotated["primary"], *rotated["previous"]}
    assert all_open(acme, mine)  # during: old and new keys side by side
    fresh = acme.post("/v1/credentials", json={"name": "new", "secret": "sk-new"})
    assert rows(stack, "acme")[fresh.json()["id"]][0] == rotated["primary"]

    done = reencrypt(stack, "acme", batch_size=5)
    assert done["finished"] and done["resealed"] == COUNT - 5
    assert key_ids(stack, "acme") == {rotated["primary"]}
    assert all_open(acme, mine | {fresh.json()["id"]: "sk-new"})  # after
    assert rows(stack, "globex") == globex_before
    assert all_open(globex, theirs)


def test_the_old_key_is_kept_for_opening_only(stack, acme):
    store(acme, "acme")
    first = stack.client.get("/admin/tenants/acme/keys", headers=stack.operator)

    second = rotate(stack, "acme")
    status = stack.client.get("/admin/tenants/acme/keys", headers=stack.operator)

    states = {key["id"]: key["state"] for key in status.json()["keys"]}
    assert states == {
        first.json()["primary"]: "decrypt_only",
        second["primary"]: "primary",
    }
    assert status.json()["pending_reencryption"] == COUNT


def test_rotation_and_reencryption_are_audited_for_the_tenant_only(stack, acme):
    store(acme, "acme")
    stack.tenant("globex")

    rotated = rotate(stack, "acme")
    reencrypt(stack, "acme")

    records = [r for r in stack.audit() if r["event"] == "key_rotation"]
    assert [(r["action"], r["target_tenant"]) for r in records] == [
        ("rotate", "acme"),
        ("reencrypt", "acme"),
    ]
    assert json.loads(records[0]["detail"]) == {
        "primary": rotated["primary"],
        "previous": rotated["previous"],
    }
    assert json.loads(records[1]["detail"])["resealed"] == COUNT


def test_a_ciphertext_moved_to_another_tenants_row_does_not_open_and_is_audited(
    stack, acme, globex
):
    mine = store(acme, "acme")
    moved_id, moved_secret = next(iter(mine.items()))
    theirs = globex.post("/v1/credentials", json={"name": "t", "secret": "sk-globex"})
    target = theirs.json()["id"]
    stolen = rows(stack, "acme")[moved_id]

    engine = create_engine(stack.settings.db_url)
    with engine.begin() as connection:  # an attacker with database access
        connection.execute(
            update(Credential)
            .where(Credential.tenant_id == "globex", Credential.id == target)
            .values(key_id=stolen[0], ciphertext=stolen[1])
        )
    engine.dispose()

    answer = globex.post(
        f"/v1/credentials/{target}/verify", json={"secret": moved_secret}
    )

    assert answer.status_code == 503
    assert moved_secret not in answer.text
    record = stack.audit(request_id=answer.headers["X-Request-ID"])[-1]
    assert (record["event"], record["reason"], record["actor_tenant"]) == (
        "decryption_failed",
        "ciphertext_invalid",
        "globex",
    )
    assert record["resource_id"] == target


def test_a_ciphertext_moved_to_another_row_of_the_same_tenant_does_not_open(
    stack, acme
):
    first, second = list(store(acme, "acme"))[:2]
    engine = create_engine(stack.settings.db_url)
    with engine.begin() as connection:
        sealed = connection.scalar(
            select(Credential.ciphertext).where(Credential.id == first)
        )
        connection.execute(
            update(Credential).where(Credential.id == second).values(ciphertext=sealed)
        )
    engine.dispose()

    answer = acme.post(f"/v1/credentials/{second}/verify", json={"secret": "x"})

    assert answer.status_code == 503


def test_reencryption_names_a_row_that_does_not_open_and_leaves_it(stack, acme):
    credentials = store(acme, "acme")
    broken = next(iter(credentials))
    engine = create_engine(stack.settings.db_url)
    with engine.begin() as connection:
        connection.execute(
            update(Credential)
            .where(Credential.id == broken)
            .values(ciphertext=b"\x01\x03k_x" + bytes(40))
        )
    engine.dispose()
    rotate(stack, "acme")

    done = reencrypt(stack, "acme")

    assert (done["finished"], done["unreadable"]) == (True, 1)
    failed = [r for r in stack.audit() if r["event"] == "decryption_failed"]
    assert [(r["resource_id"], r["target_tenant"]) for r in failed] == [
        (broken, "acme")
    ]


def test_verify_answers_false_for_a_wrong_secret(acme):
    credential = acme.post("/v1/credentials", json={"name": "a", "secret": "right"})
    path = f"/v1/credentials/{credential.json()['id']}/verify"

    assert acme.post(path, json={"secret": "wrong"}).json() == {"match": False}


def test_another_tenants_credential_cannot_be_verified(stack, acme, globex):
    theirs = globex.post("/v1/credentials", json={"name": "t", "secret": "sk-globex"})
    path = f"/v1/credentials/{theirs.json()['id']}/verify"

    answer = acme.post(path, json={"secret": "sk-globex"})

    assert answer.status_code == 404
    record = stack.audit(request_id=answer.headers["X-Request-ID"])[-1]
    assert (record["event"], record["target_tenant"]) == (
        "cross_tenant_attempt",
        "globex",
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/admin/tenants/nobody/keys/rotate"),
        ("POST", "/admin/tenants/nobody/keys/reencrypt"),
        ("GET", "/admin/tenants/nobody/keys"),
    ],
)
def test_key_admin_on_an_unknown_tenant_is_not_found(stack, method, path):
    assert stack.client.request(method, path, headers=stack.operator).status_code == 404


def test_key_admin_with_a_tenant_token_is_not_found(stack, acme):
    assert acme.post("/admin/tenants/acme/keys/rotate").status_code == 404
    assert acme.get("/admin/tenants/acme/keys").status_code == 404


def material_forms(material: bytes) -> list[str]:
    return [material.hex(), repr(material)[2:-1], base64.b64encode(material).decode()]


def test_key_material_is_in_no_response_log_or_record(stack, acme, caplog):
    services = stack.client.app.state.services
    with caplog.at_level(logging.DEBUG):
        store(acme, "acme")
        answers = [
            rotate(stack, "acme"),
            reencrypt(stack, "acme"),
            stack.client.get("/admin/tenants/acme/keys", headers=stack.operator).json(),
            stack.audit(),
            acme.get("/v1/audit").json(),
            acme.get("/v1/config").json(),
        ]
    with services.sessions() as session:
        Tenancy.enter(session, "acme")
        wrapped = session.scalars(select(TenantKey)).all()
    kek = services.keys.kek
    materials = [
        kek.unwrap(k.wrapped_key, wrap_context("acme", k.key_id)) for k in wrapped
    ]
    materials += [stack.settings.key_encryption_key, *(k.wrapped_key for k in wrapped)]

    shown = (
        caplog.text + json.dumps(answers) + repr(services.keys) + repr(stack.settings)
    )
    for material in materials:
        for form in material_forms(material):
            assert form not in shown


def test_the_cli_rotates_the_tenants_whose_interval_has_passed(
    stack, clock, monkeypatch
):
    stack.tenant("acme", key_rotation_days=30)
    stack.tenant("globex", key_rotation_days=365)
    monkeypatch.setenv("TENANTGUARD_KEK", stack.settings.key_encryption_key.hex())
    monkeypatch.setenv("TENANTGUARD_OPERATOR_KEY", stack.settings.operator_key)
    monkeypatch.setenv("TENANTGUARD_JWT_SECRET", stack.settings.jwt_secret)
    before = {t: rows(stack, t) for t in ("acme", "globex")}
    clock.advance(days=31)
    status = stack.client.get("/admin/tenants/acme/keys", headers=stack.operator)
    assert status.json()["rotation_due"] is True

    code = keys_main(
        ["rotate", "--due", "--db", stack.settings.db_url],
        clock=lambda: clock.now + timedelta(seconds=1),
    )

    assert code == 0
    assert rows(stack, "globex") == before["globex"]
    assert len([k for k in rows(stack, "acme") if k.startswith("key ")]) == 2
    assert [
        (r["actor_user"], r["reason"], r["target_tenant"])
        for r in stack.audit()
        if r["event"] == "key_rotation"
    ] == [("cli", "rotation_due", "acme")]


def test_the_cli_reencrypts_and_reports(stack, acme, monkeypatch, capsys):
    credentials = store(acme, "acme")
    rotated = rotate(stack, "acme")
    monkeypatch.setenv("TENANTGUARD_KEK", stack.settings.key_encryption_key.hex())
    monkeypatch.setenv("TENANTGUARD_OPERATOR_KEY", stack.settings.operator_key)
    monkeypatch.setenv("TENANTGUARD_JWT_SECRET", stack.settings.jwt_secret)

    from harness import cli

    argv = ["reencrypt", "acme", "--db", stack.settings.db_url, "--batch-size", "5"]
    code = cli.main(["keys", *argv])  # the same as stack.keys.main(argv)

    assert code == 0
    assert (
        f"acme: {COUNT} resealed in 3 batches, 0 unreadable" in capsys.readouterr().out
    )
    assert key_ids(stack, "acme") == {rotated["primary"]}
    assert all_open(acme, credentials)
    stored = [v for k, v in rows(stack, "acme").items() if not k.startswith("key ")]
    assert {key_id_of(ciphertext) for _, ciphertext, _ in stored} == {
        rotated["primary"]
    }
