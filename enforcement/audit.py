"""The hash-chained audit log: appending a record, and verifying the chain.

Each record's `hash` is the SHA-256 (hex) of the canonical JSON of its other
fields (keys sorted, separators `,` and `:`, UTF-8, no ASCII escaping), and
its `prev_hash` is the previous record's `hash` (64 zeros for the first).
`seq` counts from 1 without gaps. A one-row table, the head, names the last
link; writers update it first, which serializes them (a row lock on
PostgreSQL, the write lock on SQLite).

`verify` reads a chain (from the database, or a JSON-lines export) and names
each kind of tampering it finds:

    edited      a record's content no longer matches its hash, or the record
                after it links to a different version of it
    removed     records are missing from the middle or the start
    inserted    a record that the chain skips, or that follows the head
    reordered   records are out of their chained order
    truncated   records after the last one present are missing (the head
                names a later link)
    rewritten   a record differs from an anchor (seq and hash noted earlier)

Its limit: whoever can write to the database can also recompute every hash
after an edit and move the head. Only an anchor kept elsewhere (a noted head,
an earlier export) detects that; see `verify(..., anchors=...)`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy import Connection, column, insert, select, table, update
from sqlalchemy.orm import Session

GENESIS_HASH = "0" * 64
EVENT_FIELDS = (
    "request_id",
    "actor_tenant",
    "actor_user",
    "action",
    "resource_type",
    "resource_id",
    "target_tenant",
    "decision",
    "reason",
    "event",
    "detail",
)
FIELDS = ("seq", "time", *EVENT_FIELDS, "prev_hash", "hash")
RENUMBER_WINDOW = 64  # how far a moved record's original position is searched

RECORDS = table("audit_records", *(column(name) for name in FIELDS))
HEAD = table("audit_head", column("id"), column("seq"), column("hash"))
HEAD_LINE = "audit_head"  # the key of an export's last line


def record_hash(record: Mapping[str, Any]) -> str:
    fields = {name: value for name, value in record.items() if name != "hash"}
    canonical = json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def append(
    session: Session | Connection, event: Mapping[str, Any], time: str
) -> dict[str, Any]:
    """Append `event` (the EVENT_FIELDS) inside the caller's transaction."""
    head = update(HEAD).where(HEAD.c.id == 1)
    session.execute(head.values(seq=HEAD.c.seq + 1))
    seq, prev_hash = session.execute(
        select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == 1)
    ).one()

    record = {name: event.get(name) for name in EVENT_FIELDS}
    record.update(seq=seq, time=time, prev_hash=prev_hash)
    record["hash"] = record_hash(record)
    session.execute(insert(RECORDS).values(**record))
    session.execute(head.values(hash=record["hash"]))
    return record


# -- reading -----------------------------------------------------------------


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str


def read_records(
    connection: Connection | Session, after: int = 0, page: int = 5000
) -> Iterator[dict[str, Any]]:
    """Every record with `seq` > `after`, in `seq` order, a page at a time."""
    while True:
        statement = (
            select(*(RECORDS.c[name] for name in FIELDS))
            .where(RECORDS.c.seq > after)
            .order_by(RECORDS.c.seq)
            .limit(page)
        )
        rows = [dict(row._mapping) for row in connection.execute(statement)]
        yield from rows
        if len(rows) < page:
            return
        after = rows[-1]["seq"]


def read_head(connection: Connection | Session) -> Head | None:
    row = connection.execute(select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == 1))
    found = row.one_or_none()
    return None if found is None else Head(found.seq, found.hash)


def export_jsonl(
    records: Iterable[Mapping[str, Any]], file: IO[str], head: Head | None = None
) -> int:
    """Write one record per line, then the head; returns the records written."""
    count = 0
    for record in records:
        file.write(json.dumps({n: record[n] for n in FIELDS}, ensure_ascii=False))
        file.write("\n")
        count += 1
    if head is not None:
        file.write(json.dumps({HEAD_LINE: {"seq": head.seq, "hash": head.hash}}))
        file.write("\n")
    return count


def read_jsonl(lines: Iterable[str]) -> tuple[list[dict[str, Any]], Head | None]:
    """Records and the head (if any) from an export; ValueError names the line."""
    records, head = [], None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as error:
            raise ValueError(f"line {number}: not JSON ({error})") from None
        if isinstance(value, dict) and set(value) == {HEAD_LINE}:
            head = Head(int(value[HEAD_LINE]["seq"]), str(value[HEAD_LINE]["hash"]))
        elif isinstance(value, dict) and set(value) >= set(FIELDS) - {"detail"}:
            records.append(value)
        else:
            raise ValueError(f"line {number}: not an audit record")
    return records, head


# -- verifying ---------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    kind: str
    seq: int
    message: str

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.kind}: {self.message}"


@dataclass
class Verification:
    count: int
    last: Head | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def kinds(self) -> set[str]:
        return {problem.kind for problem in self.problems}

    def add(self, kind: str, seq: int, message: str) -> None:
        if not any(p.kind == kind and p.seq == seq for p in self.problems):
            self.problems.append(Problem(kind, seq, message))


def verify(
    records: Iterable[Mapping[str, Any]],
    *,
    head: Head | None = None,
    prev_hash: str = GENESIS_HASH,
    first_seq: int = 1,
    anchors: Sequence[Head] = (),
) -> Verification:
    """Check a chain in the order given; `head` is the stored head row, if any.

    `prev_hash` and `first_seq` start the chain elsewhere than at its
    beginning (a partial export); `anchors` are (seq, hash) pairs noted
    earlier that must still be in the chain.
    """
    rows = [dict(record) for record in records]
    origins = [_original_seq(row) for row in rows]
    last = Head(rows[-1]["seq"], rows[-1]["hash"]) if rows else None
    result = Verification(len(rows), last)
    for row, origin in zip(rows, origins, strict=True):
        if origin is None:
            result.add("edited", row["seq"], "its content does not match its hash")
    _check_order(rows, origins, first_seq, result)
    _check_links(rows, origins, prev_hash, first_seq, result)
    _check_head(rows, head, first_seq, result)
    _check_anchors(rows, anchors, result)
    result.problems.sort(key=lambda problem: problem.seq)
    return result


def _original_seq(row: Mapping[str, Any]) -> int | None:
    """The position a record was written at: its `seq`, or the `seq` that makes
    its hash match again (it was renumbered); None if none does (edited)."""
    if record_hash(row) == row["hash"]:
        return row["seq"]
    seq = row["seq"]
    if not isinstance(seq, int):
        return None
    for candidate in range(max(1, seq - RENUMBER_WINDOW), seq + RENUMBER_WINDOW + 1):
        if candidate != seq and record_hash({**row, "seq": candidate}) == row["hash"]:
            return candidate
    return None


def _stand_in(rows: list[dict], origins: list[int | None]) -> list[int]:
    """Each record's position: where it was written, or, for an edited one,
    the `seq` it shows."""
    return [
        row["seq"] if o is None else o for row, o in zip(rows, origins, strict=True)
    ]


def _check_order(rows, origins, first_seq: int, result: Verification) -> None:
    positions = _stand_in(rows, origins)
    for index in range(1, len(rows)):
        if positions[index] < positions[index - 1]:
            result.add(
                "reordered",
                rows[index]["seq"],
                f"it was written as record {positions[index]}, "
                f"after record {positions[index - 1]} here",
            )
    present = set(positions)
    if present:
        for missing in sorted(set(range(first_seq, max(present) + 1)) - present):
            result.add("removed", missing, "this record is missing from the chain")


def _check_links(
    rows, origins, prev_hash: str, first_seq: int, result: Verification
) -> None:
    hashes = {row["hash"] for row in rows}
    positions = _stand_in(rows, origins)
    for index, row in enumerate(rows):
        expected = rows[index - 1]["hash"] if index else prev_hash
        if row["prev_hash"] == expected:
            continue
        before = rows[index - 2]["hash"] if index > 1 else prev_hash
        after = rows[index + 1]["prev_hash"] if index + 1 < len(rows) else None
        if index and row["prev_hash"] == before:
            inserted = rows[index - 1]["seq"]
            result.add("inserted", inserted, "the chain links past this record")
        elif after == expected:
            result.add("inserted", row["seq"], "the chain links past this record")
        elif row["prev_hash"] in hashes:
            result.add("reordered", row["seq"], "it links to a record placed elsewhere")
        elif _gap_before(positions, index, first_seq):
            missing = positions[index - 1] + 1 if index else first_seq
            result.add("removed", missing, "this record is missing from the chain")
        else:
            edited = rows[index - 1]["seq"] if index else row["seq"]
            result.add("edited", edited, "the next record links to another version")


def _gap_before(positions: list[int], index: int, first_seq: int) -> bool:
    previous = positions[index - 1] if index else first_seq - 1
    return positions[index] - previous > 1


def _check_head(rows, head: Head | None, first_seq: int, result: Verification) -> None:
    if head is None:
        return
    last = rows[-1] if rows else None
    if last is not None and last["seq"] == head.seq and last["hash"] == head.hash:
        return
    if last is None and head.seq < first_seq:
        return  # nothing written yet
    positions = {row["hash"]: i for i, row in enumerate(rows)}
    if head.hash in positions:
        for row in rows[positions[head.hash] + 1 :]:
            result.add("inserted", row["seq"], "it follows the chain's head")
    elif last is None or head.seq > last["seq"]:
        first = last["seq"] + 1 if last is not None else first_seq
        result.add(
            "truncated", first, f"records {first} to {head.seq} (the head) are missing"
        )
    else:
        result.add("edited", head.seq, "the head names a record that is not here")


def _check_anchors(rows, anchors: Sequence[Head], result: Verification) -> None:
    by_seq = {row["seq"]: row["hash"] for row in rows}
    for anchor in anchors:
        found = by_seq.get(anchor.seq)
        if found != anchor.hash:
            state = "missing" if found is None else "different"
            result.add("rewritten", anchor.seq, f"the anchored record is {state}")
