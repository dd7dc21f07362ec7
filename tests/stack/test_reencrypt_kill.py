"""Re-encryption killed with SIGKILL at random points loses nothing.

Each trial rotates acme's key, starts `python -m stack.keys reencrypt acme`
as a subprocess (small batches, each committed on its own), lets it commit a
random number of batches, kills it with SIGKILL after a further random delay
(inside a batch, between two, or before the first), then checks that every
secret of acme opens to its original value and every byte of globex is
unchanged. A last run, not killed, finishes the work.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from enforcement.tenancy import Tenancy
from stack.db import Credential
from stack.ids import new_id
from stack.keys import credential_context, rotate_tenant

REPO = Path(__file__).resolve().parents[2]
TRIALS = 20
ACME_SECRETS = 100
GLOBEX_SECRETS = 20
BATCH = "4"
PAUSE = "0.002"  # seconds between batches
BATCHES = ACME_SECRETS // int(BATCH)


def plant(services, tenant: str, count: int, now) -> dict[str, bytes]:
    """`count` credentials sealed as the stack seals them; ID -> plaintext."""
    plain = {new_id("cr"): f"sk-{tenant}-{n}".encode() for n in range(count)}
    with services.sessions() as session:
        Tenancy.enter(session, tenant)
        keys = services.keys.keyset(session, tenant)
        for credential_id, secret in plain.items():
            session.add(
                Credential(
                    id=credential_id,
                    name=credential_id,
                    key_id=keys.primary.key_id,
                    ciphertext=keys.seal(secret, credential_context(credential_id)),
                    fingerprint=keys.fingerprint(secret),
                    created_at=now,
                )
            )
        session.commit()
    return plain


def opened(services, tenant: str) -> tuple[dict[str, bytes], dict[str, int]]:
    """Every credential's plaintext, and how many sit under each key."""
    with services.sessions() as session:
        Tenancy.enter(session, tenant)
        keys = services.keys.keyset(session, tenant)
        found = session.execute(
            select(Credential.id, Credential.key_id, Credential.ciphertext)
        ).all()
    per_key: dict[str, int] = {}
    for row in found:
        per_key[row.key_id] = per_key.get(row.key_id, 0) + 1
    plain = {
        row.id: keys.open(row.ciphertext, credential_context(row.id)) for row in found
    }
    return plain, per_key


def stored_bytes(services, tenant: str) -> dict[str, tuple[str, bytes]]:
    with services.sessions() as session:
        Tenancy.enter(session, tenant)
        found = session.execute(
            select(Credential.id, Credential.key_id, Credential.ciphertext)
        ).all()
    return {row.id: (row.key_id, row.ciphertext) for row in found}


def job(stack) -> subprocess.Popen:
    settings = stack.settings
    environment = {
        **os.environ,
        "TENANTGUARD_KEK": settings.key_encryption_key.hex(),
        "TENANTGUARD_OPERATOR_KEY": settings.operator_key,
        "TENANTGUARD_JWT_SECRET": settings.jwt_secret,
        "PYTHONPATH": str(REPO),
    }
    command = [
        sys.executable, "-m", "stack.keys", "reencrypt", "acme",
        "--db", settings.db_url, "--batch-size", BATCH, "--pause", PAUSE,
        "--progress",
    ]  # fmt: skip
    return subprocess.Popen(
        command,
        cwd=REPO,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def run_until_started(process: subprocess.Popen) -> None:
    line = process.stdout.readline()
    assert line.startswith("re-encrypting"), line


def test_reencryption_killed_at_random_points_loses_nothing(stack, clock):
    services = stack.client.app.state.services
    stack.tenant("acme")
    stack.tenant("globex")
    acme = plant(services, "acme", ACME_SECRETS, clock.now)
    plant(services, "globex", GLOBEX_SECRETS, clock.now)
    globex_before = stored_bytes(services, "globex")
    rng = random.Random(os.environ.get("TENANTGUARD_KILL_SEED", "7415"))

    started = time.monotonic()
    progress = []
    for _ in range(TRIALS):
        rotation = rotate_tenant(
            services.sessions, services.keys, "acme", now=clock.now
        )
        process = job(stack)
        run_until_started(process)
        for _ in range(rng.randrange(BATCHES)):  # let it commit some batches
            assert process.stdout.readline().startswith("batch ")
        time.sleep(rng.uniform(0, 0.02))  # then a random point of the next
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        process.stdout.close()

        plain, per_key = opened(services, "acme")
        assert plain == acme  # nothing lost, nothing garbled
        assert stored_bytes(services, "globex") == globex_before
        progress.append(per_key.get(rotation.primary, 0))

    final = job(stack)
    assert final.wait(timeout=120) == 0
    final.stdout.close()
    plain, per_key = opened(services, "acme")
    assert plain == acme
    assert per_key == {rotation.primary: ACME_SECRETS}
    assert stored_bytes(services, "globex") == globex_before

    interrupted = sum(0 < done < ACME_SECRETS for done in progress)
    print(
        f"\n{TRIALS} SIGKILL trials over {ACME_SECRETS} secrets (batches of "
        f"{BATCH}): killed mid-way in {interrupted}, "
        f"rows under the new key at the kill: {progress}; every secret opened to "
        f"its original value after each kill; total {time.monotonic() - started:.0f}s"
    )
    assert interrupted >= TRIALS // 2  # the kills did land inside the work
