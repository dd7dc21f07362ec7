"""The audit chain: each kind of tampering is found and named.

The chain is written by `enforcement.audit.append` into a real database (the
stack's tables), tampered with by SQL as an attacker with database access
would, then read back and verified, by the function and by the CLI.
"""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import create_engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from enforcement import audit, audit_cli
from enforcement.audit import GENESIS_HASH, Head, record_hash, verify
from stack.db import AuditHead, AuditRecord, create_schema

COUNT = 8


@pytest.fixture
def db(tmp_path):
    """A database with a chain of COUNT records; yields its URL and engine."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    engine = create_engine(url)
    sessions = create_schema(engine)
    with sessions() as session:
        for n in range(COUNT):
            event = {"event": "denied", "decision": "deny", "reason": f"r{n}"}
            audit.append(session, event, f"2026-12-03T12:00:0{n}.000000Z")
        session.commit()
    yield url, engine
    engine.dispose()


def chain(engine) -> tuple[list[dict], Head | None]:
    with engine.connect() as connection:
        return list(audit.read_records(connection)), audit.read_head(connection)


def verified(engine) -> audit.Verification:
    records, head = chain(engine)
    return verify(records, head=head)


def run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = audit_cli.main(list(argv), stdout=out)
    return code, out.getvalue()


def record(engine, seq: int) -> dict:
    return next(r for r in chain(engine)[0] if r["seq"] == seq)


def forged(engine, seq: int, prev_hash: str, **fields) -> dict:
    """A record an attacker writes, with a hash that matches its content."""
    row = {**record(engine, 1), **fields, "seq": seq, "prev_hash": prev_hash}
    row["hash"] = record_hash(row)
    return row


# -- a whole chain ----------------------------------------------------------------


def test_an_untouched_chain_verifies(db):
    url, engine = db

    result = verified(engine)
    code, output = run_cli("verify", "--db", url)

    assert result.ok and result.count == COUNT
    assert code == 0
    assert f"audit chain ok: {COUNT} records; head seq {COUNT}" in output


def test_each_hash_covers_every_field(db):
    _, engine = db
    records, _ = chain(engine)

    assert records[0]["prev_hash"] == GENESIS_HASH
    assert set(records[0]) == set(audit.FIELDS)
    for earlier, later in zip(records, records[1:], strict=False):
        assert later["prev_hash"] == earlier["hash"] == record_hash(earlier)


def test_an_empty_chain_verifies(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    create_schema(engine)

    assert verified(engine).ok
    engine.dispose()


# -- each kind of tampering ----------------------------------------------------


def edit(engine):
    with engine.begin() as connection:
        statement = update(AuditRecord).where(AuditRecord.seq == 4)
        connection.execute(statement.values(decision="allow"))


def edit_and_rehash(engine):
    row = record(engine, 4)
    row["reason"] = "allowed"
    with engine.begin() as connection:
        statement = update(AuditRecord).where(AuditRecord.seq == 4)
        connection.execute(statement.values(reason="allowed", hash=record_hash(row)))


def remove(engine):
    with engine.begin() as connection:
        connection.execute(delete(AuditRecord).where(AuditRecord.seq == 4))


def remove_and_renumber(engine):
    with engine.begin() as connection:
        connection.execute(delete(AuditRecord).where(AuditRecord.seq == 4))
        for seq in range(5, COUNT + 1):
            statement = update(AuditRecord).where(AuditRecord.seq == seq)
            connection.execute(statement.values(seq=seq - 1))
        connection.execute(update(AuditHead).values(seq=COUNT - 1))


def insert_in_the_middle(engine):
    """Room made by renumbering the later records, a forged record put in (it
    cannot link to record 3: the next record already does, and `prev_hash` is
    unique, see the test below)."""
    row = forged(engine, 4, "f" * 64, reason="planted")
    with engine.begin() as connection:
        for seq in range(COUNT, 3, -1):
            statement = update(AuditRecord).where(AuditRecord.seq == seq)
            connection.execute(statement.values(seq=seq + 1))
        connection.execute(insert(AuditRecord).values(**row))


def insert_after_the_head(engine):
    """A perfectly chained record appended, the head row left alone."""
    row = forged(engine, COUNT + 1, record(engine, COUNT)["hash"], reason="planted")
    with engine.begin() as connection:
        connection.execute(insert(AuditRecord).values(**row))


def reorder(engine):
    """Two records swap places (their seq values exchanged)."""
    with engine.begin() as connection:
        for old, new in ((3, 100), (6, 3), (100, 6)):
            statement = update(AuditRecord).where(AuditRecord.seq == old)
            connection.execute(statement.values(seq=new))


def truncate(engine):
    """The last records deleted; the head row still names the last link."""
    with engine.begin() as connection:
        connection.execute(delete(AuditRecord).where(AuditRecord.seq > COUNT - 2))


TAMPERING = {
    "edited": (edit, "edited", 4),
    "edited-and-rehashed": (edit_and_rehash, "edited", 4),
    "removed": (remove, "removed", 4),
    "removed-and-renumbered": (remove_and_renumber, "removed", 4),
    "inserted-in-the-middle": (insert_in_the_middle, "inserted", 4),
    "inserted-after-the-head": (insert_after_the_head, "inserted", COUNT + 1),
    "reordered": (reorder, "reordered", 3),
    "truncated": (truncate, "truncated", COUNT - 1),
}


@pytest.mark.parametrize("name", TAMPERING)
def test_tampering_is_found_and_named(db, name):
    url, engine = db
    tamper, kind, seq = TAMPERING[name]

    tamper(engine)
    result = verified(engine)
    code, output = run_cli("verify", "--db", url)

    assert not result.ok
    assert any(p.kind == kind and p.seq == seq for p in result.problems), (
        result.problems
    )
    assert code == 1
    assert f"seq {seq}: {kind}:" in output and "audit chain BROKEN" in output


def test_the_database_refuses_two_records_linking_to_the_same_one(db):
    _, engine = db
    row = forged(engine, COUNT + 1, record(engine, 3)["hash"], reason="planted")

    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert(AuditRecord).values(**row))


def test_a_complete_rewrite_is_found_only_by_an_anchor(db):
    """Whoever can write the database can recompute every hash and the head;
    a (seq, hash) noted earlier still exposes it."""
    url, engine = db
    anchor = record(engine, 5)
    edit_and_rehash(engine)
    records, _ = chain(engine)
    prev = records[3]["hash"]
    with engine.begin() as connection:
        for row in records[4:]:
            row["prev_hash"] = prev
            row["hash"] = prev = record_hash(row)
            statement = update(AuditRecord).where(AuditRecord.seq == row["seq"])
            connection.execute(
                statement.values(prev_hash=row["prev_hash"], hash=row["hash"])
            )
        connection.execute(update(AuditHead).values(hash=prev))

    assert verified(engine).ok  # the chain alone cannot tell
    code, output = run_cli("verify", "--db", url, "--anchor", f"5:{anchor['hash']}")
    assert code == 1 and "seq 5: rewritten" in output


# -- exports ---------------------------------------------------------------------


def test_an_export_verifies_offline_and_lines_swapped_are_reordered(db, tmp_path):
    url, _ = db
    exported = tmp_path / "chain.jsonl"

    assert run_cli("export", "--db", url, "--output", str(exported))[0] == 0
    assert run_cli("verify", "--jsonl", str(exported))[0] == 0

    lines = exported.read_text().splitlines()
    lines[2], lines[5] = lines[5], lines[2]
    exported.write_text("\n".join(lines) + "\n")
    code, output = run_cli("verify", "--jsonl", str(exported))
    assert code == 1 and "reordered" in output


def test_an_export_missing_its_last_lines_is_truncated(db, tmp_path):
    url, _ = db
    exported = tmp_path / "chain.jsonl"
    run_cli("export", "--db", url, "--output", str(exported))
    lines = exported.read_text().splitlines()

    exported.write_text("\n".join(lines[:3] + lines[-1:]) + "\n")  # head kept
    code, output = run_cli("verify", "--jsonl", str(exported))

    assert code == 1 and "seq 4: truncated" in output


def test_an_export_lists_records_then_the_head(db):
    url, engine = db
    out = io.StringIO()

    audit_cli.main(["export", "--db", url], stdout=out)

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["seq"] for line in lines[:-1]] == list(range(1, COUNT + 1))
    assert lines[-1] == {"audit_head": {"seq": COUNT, "hash": chain(engine)[1].hash}}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["verify", "--db", "not a url"], "not a SQLAlchemy URL"),
        (["verify", "--jsonl", "/nonexistent/chain.jsonl"], "No such file"),
    ],
)
def test_cli_usage_errors_exit_2(argv, message, capsys):
    assert audit_cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_cli_reading_a_database_without_the_tables_exits_2(tmp_path, capsys):
    assert audit_cli.main(["verify", "--db", f"sqlite:///{tmp_path / 'x.db'}"]) == 2
    assert "cannot read the audit tables" in capsys.readouterr().err


def test_a_bad_anchor_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        audit_cli.main(["verify", "--db", "sqlite://", "--anchor", "5:abc"])

    assert exited.value.code == 2
    assert "SEQ:HASH" in capsys.readouterr().err


def test_the_head_is_read_from_its_row(db):
    _, engine = db
    with engine.connect() as connection:
        seq = connection.scalar(select(AuditHead.seq))

    assert chain(engine)[1].seq == seq == COUNT


def test_the_tenantguard_command_runs_audit_verify(db, capsys):
    from harness import cli

    url, engine = db
    assert cli.main(["audit", "verify", "--db", url]) == 0
    with engine.begin() as connection:
        connection.execute(
            update(AuditRecord).where(AuditRecord.seq == 3).values(reason="edited")
        )
    assert cli.main(["audit", "verify", "--db", url]) == 1
    assert "3" in capsys.readouterr().out
