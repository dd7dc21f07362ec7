"""Credentials: sealed under the tenant's key; the secret never comes back."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import create_engine, select

from stack.db import Credential

SECRET = "sk-live-canary-7f3a"


@pytest.fixture
def credential(acme) -> dict:
    response = acme.post("/v1/credentials", json={"name": "openai", "secret": SECRET})
    assert response.status_code == 201, response.text
    return response.json()


def test_create_answers_metadata_and_a_fingerprint(credential):
    assert set(credential) == {"id", "name", "created_at", "fingerprint"}
    assert credential["id"].startswith("cr_")
    assert len(credential["fingerprint"]) == 12


def test_viewer_cannot_create(stack):
    viewer = stack.tenant("acme", roles=("viewer",))

    response = viewer.post("/v1/credentials", json={"name": "x", "secret": SECRET})

    assert response.status_code == 403


def test_the_secret_is_in_no_answer(acme, credential):
    answers = [
        acme.get("/v1/credentials"),
        acme.get(f"/v1/credentials/{credential['id']}"),
        acme.get("/v1/audit"),
    ]

    for response in answers:
        assert response.status_code == 200
        assert SECRET not in response.text


def test_only_ciphertext_is_stored(stack, credential):
    database = create_engine(stack.settings.db_url)
    with database.connect() as connection:
        stored = connection.execute(select(Credential.ciphertext)).scalar_one()
    database.dispose()

    assert SECRET.encode() not in stored


def test_the_secret_is_in_no_log_line(stack, acme, caplog):
    with caplog.at_level(logging.DEBUG):
        acme.post("/v1/credentials", json={"name": "x", "secret": SECRET})
        acme.post("/v1/credentials", json={"name": "x", "secret": SECRET, "extra": 1})
        acme.post("/v1/credentials", json={"name": "x", "secret": SECRET + "x" * 5000})

    assert SECRET not in caplog.text


def test_a_refused_secret_is_not_echoed(acme):
    response = acme.post(
        "/v1/credentials", json={"name": "x", "secret": SECRET + "x" * 5000}
    )

    assert response.status_code == 400
    assert SECRET not in response.text


def test_same_secret_same_fingerprint_within_a_tenant_only(stack, acme, credential):
    again = acme.post("/v1/credentials", json={"name": "b", "secret": SECRET}).json()
    globex = stack.tenant("globex")
    elsewhere = globex.post(
        "/v1/credentials", json={"name": "c", "secret": SECRET}
    ).json()

    assert again["fingerprint"] == credential["fingerprint"]
    assert elsewhere["fingerprint"] != credential["fingerprint"]


def test_list_and_read(acme, credential):
    listing = acme.get("/v1/credentials").json()

    assert listing == {"items": [credential], "total": 1}
    assert acme.get(f"/v1/credentials/{credential['id']}").json() == credential


def test_admin_deletes(acme, credential):
    assert acme.delete(f"/v1/credentials/{credential['id']}").status_code == 204
    assert acme.get(f"/v1/credentials/{credential['id']}").status_code == 404


def test_member_cannot_delete(stack, credential):
    member = stack.tenant("acme", roles=("member",))

    assert member.delete(f"/v1/credentials/{credential['id']}").status_code == 403
