"""The audit log: append-only, every record chained to the one before."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import update

from stack.audit import GENESIS_HASH, record_hash, verify_chain
from stack.db import AuditRecord


def _some_history(stack, acme) -> None:
    acme.get("/v1/agents/ag_000000000000000000000000")
    acme.get("/v1/agents", headers={"X-Tenant-ID": "globex"})
    stack.client.get("/v1/agents", headers={"Authorization": "Bearer nonsense"})


def test_the_chain_verifies(stack, acme):
    _some_history(stack, acme)

    records = stack.audit()

    assert len(records) >= 5
    assert records[0]["prev_hash"] == GENESIS_HASH
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert verify_chain(records) is None


def test_each_hash_covers_the_whole_record(stack, acme):
    _some_history(stack, acme)

    for record in stack.audit():
        assert record["hash"] == record_hash(record)


def test_an_edited_record_breaks_the_chain(stack, acme):
    _some_history(stack, acme)
    with stack.client.app.state.services.database.begin() as connection:
        connection.execute(
            update(AuditRecord).where(AuditRecord.seq == 3).values(reason="allowed")
        )

    assert verify_chain(stack.audit()) == 3


def test_a_removed_record_breaks_the_chain(stack, acme):
    _some_history(stack, acme)
    records = stack.audit()

    assert verify_chain(records[:2] + records[3:]) == records[2]["seq"]


def test_parallel_writers_never_fork_the_chain(stack, acme):
    def deny(_):
        return acme.get("/v1/agents/ag_000000000000000000000000").status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(deny, range(64)))

    records = stack.audit()
    assert statuses == [404] * 64
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert verify_chain(records) is None


def test_the_log_has_no_route_that_changes_it(stack):
    for method in ("DELETE", "PUT", "PATCH", "POST"):
        response = stack.client.request(method, "/admin/audit", headers=stack.operator)

        assert response.status_code == 405


def test_the_operator_verifies_the_chain_and_sees_an_edit(stack, acme):
    _some_history(stack, acme)
    clean = stack.client.get("/admin/audit/verify", headers=stack.operator).json()
    with stack.client.app.state.services.database.begin() as connection:
        connection.execute(
            update(AuditRecord).where(AuditRecord.seq == 3).values(reason="allowed")
        )

    broken = stack.client.get("/admin/audit/verify", headers=stack.operator).json()

    assert (clean["ok"], clean["problems"]) == (True, [])
    assert clean["head"]["seq"] == clean["records"]
    assert broken["ok"] is False
    assert {"seq": 3, "kind": "edited"}.items() <= broken["problems"][0].items()


def test_a_tenant_cannot_verify_the_chain(acme):
    assert acme.get("/admin/audit/verify").status_code == 404


def test_a_nul_byte_the_caller_sent_is_recorded_visibly(stack, acme):
    response = acme.get("/v1/files/report.txt%00.png")

    records = stack.audit(request_id=response.headers["X-Request-ID"])
    assert response.status_code == 400
    assert records and "report.txt\\x00.png" in records[-1]["resource_id"]
    assert all("\x00" not in str(record) for record in records)
