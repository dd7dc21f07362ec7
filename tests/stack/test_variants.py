"""Each vulnerable variant opens exactly its hole; the correct stack keeps it
shut. Every attack below runs against both."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import jwt
import pytest

from stack.auth import AUDIENCE, ISSUER
from stack.variants import VARIANTS
from tests.stack.conftest import START


def _foreign_agent(stack, acme, globex) -> bool:
    agent = globex.post("/v1/agents", json={"name": "canary"}).json()["id"]
    return acme.get(f"/v1/agents/{agent}").status_code == 200


def _forbidden_oracle(stack, acme, globex) -> bool:
    agent = globex.post("/v1/agents", json={"name": "canary"}).json()["id"]
    return acme.get(f"/v1/agents/{agent}").status_code == 403


def _tenant_header(stack, acme, globex) -> bool:
    globex.post("/v1/agents", json={"name": "canary"})
    return "canary" in acme.get("/v1/agents", headers={"X-Tenant-ID": "globex"}).text


def _forged_signature(stack, acme, globex) -> bool:
    globex.post("/v1/agents", json={"name": "canary"})
    token = jwt.encode(
        _claims(tid="globex"), "attacker-key-0123456789abcdef0123", algorithm="HS256"
    )
    return "canary" in _list_agents(stack, token)


def _alg_none(stack, acme, globex) -> bool:
    globex.post("/v1/agents", json={"name": "canary"})
    header = _b64({"alg": "none", "typ": "JWT"})
    return "canary" in _list_agents(stack, f"{header}.{_b64(_claims(tid='globex'))}.")


def _wrong_parent(stack, acme, globex) -> bool:
    theirs = globex.post("/v1/agents", json={"name": "canary"}).json()["id"]
    execution = globex.post(
        f"/v1/agents/{theirs}/executions", json={"input": "canary"}
    ).json()["id"]
    mine = acme.post("/v1/agents", json={"name": "mine"}).json()["id"]
    return acme.get(f"/v1/agents/{mine}/executions/{execution}").status_code == 200


def _credential_list(stack, acme, globex) -> bool:
    globex.post("/v1/credentials", json={"name": "canary", "secret": "s"})
    return "canary" in acme.get("/v1/credentials").text


def _file_query(stack, acme, globex) -> bool:
    globex.put("/v1/files/report.txt", content=b"canary")
    return (
        acme.get("/v1/files/report.txt", params={"tenant": "globex"}).content
        == b"canary"
    )


def _execute(tenant, path: str, _: int):
    return tenant.post(path, json={"input": "x"})


def _quota_race(stack, acme, globex) -> bool:
    """Bursts race for a daily limit of 2; read-then-write admits more."""
    for round_ in range(5):
        tenant = stack.tenant(f"racer-{round_}", limits={"max_executions_per_day": 2})
        agent = tenant.post("/v1/agents", json={"name": "runner"}).json()["id"]
        path = f"/v1/agents/{agent}/executions"
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(partial(_execute, tenant, path), range(16)))
        if tenant.get(path).json()["total"] > 2:
            return True
    return False


def _viewer_writes(stack, acme, globex) -> bool:
    viewer = stack.tenant("acme", roles=("viewer",))
    return viewer.post("/v1/agents", json={"name": "by a viewer"}).status_code == 201


def _credential_row(stack, acme, globex) -> bool:
    created = acme.post("/v1/credentials", json={"name": "c", "secret": "s"}).json()
    return "ciphertext" in acme.get(f"/v1/credentials/{created['id']}").json()


def _strip_once(stack, acme, globex) -> bool:
    globex.put("/v1/files/report.txt", content=b"canary")
    acme.put("/v1/archives/pack", content=_zip(("a.txt", b"A")))
    escape = "....//....//....//globex/files/report.txt"
    return acme.get(f"/v1/archives/pack/{escape}").content == b"canary"


def _shared_key(stack, acme, globex) -> bool:
    same = {"name": "same", "secret": "the same secret"}
    mine = acme.post("/v1/credentials", json=same).json()["fingerprint"]
    return globex.post("/v1/credentials", json=same).json()["fingerprint"] == mine


ATTACKS = {
    "agent_read_no_tenant_check": _foreign_agent,
    "forbidden_not_404": _forbidden_oracle,
    "trust_tenant_header": _tenant_header,
    "unverified_jwt": _forged_signature,
    "alg_none_accepted": _alg_none,
    "child_via_wrong_parent": _wrong_parent,
    "credential_list_leak": _credential_list,
    "file_cross_tenant": _file_query,
    "roles_ignored": _viewer_writes,
    "credential_row_exposed": _credential_row,
    "storage_strips_dotdot_once": _strip_once,
    "shared_tenant_key": _shared_key,
    "quota_read_then_write": _quota_race,
}


def test_every_variant_has_an_attack():
    assert set(ATTACKS) == set(VARIANTS) - {"correct"}


@pytest.mark.parametrize("variant", ATTACKS)
def test_the_variant_opens_its_hole(make_stack, variant):
    stack = make_stack(variant=variant)

    assert ATTACKS[variant](stack, stack.tenant("acme"), stack.tenant("globex"))


@pytest.mark.parametrize("variant", ATTACKS)
def test_the_correct_stack_keeps_it_shut(make_stack, variant):
    stack = make_stack()

    assert not ATTACKS[variant](stack, stack.tenant("acme"), stack.tenant("globex"))


# Not checking signatures at all also lets unsigned (alg "none") tokens in.
IMPLIED = {"unverified_jwt": {"alg_none_accepted"}}


@pytest.mark.parametrize("variant", ATTACKS)
def test_the_variant_opens_no_other_hole(make_stack, variant):
    for other in sorted(set(ATTACKS) - {variant} - IMPLIED.get(variant, set())):
        stack = make_stack(variant=variant)
        breached = ATTACKS[other](stack, stack.tenant("acme"), stack.tenant("globex"))

        assert not breached, f"{variant} also opens {other}"


def _claims(**changes) -> dict:
    now = int(START.timestamp())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "mallory",
        "tid": "acme",
        "roles": ["admin"],
    }
    return {**claims, "iat": now, "nbf": now, "exp": now + 600, **changes}


def _b64(document: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


def _list_agents(stack, token: str) -> str:
    return stack.client.get(
        "/v1/agents", headers={"Authorization": f"Bearer {token}"}
    ).text


def _zip(*members: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, data in members:
            bundle.writestr(name, data)
    return buffer.getvalue()
