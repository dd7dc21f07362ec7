"""`tenantguard audit ...`: verify the audit chain, or export it for later.

    tenantguard audit verify --db URL [--anchor SEQ:HASH ...]
    tenantguard audit verify --jsonl FILE [--anchor SEQ:HASH ...]
    tenantguard audit export --db URL [--after SEQ] [--output FILE]

`verify` exits 0 when the chain is whole, 1 when it found tampering (one line
per problem: the record's seq, the kind, what is wrong), 2 on a usage error.
An export ends with the head row, so a copy kept elsewhere can be verified
offline, and its last hash serves later as an `--anchor` against a rewrite.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from enforcement import audit
from enforcement.errors import UsageError

PROG = "tenantguard audit"


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    check = actions.add_parser("verify", help="verify the hash chain")
    source = check.add_mutually_exclusive_group(required=True)
    source.add_argument("--db", help="the stack's SQLAlchemy database URL")
    source.add_argument("--jsonl", type=Path, help="an export written by `export`")
    check.add_argument(
        "--anchor",
        action="append",
        default=[],
        type=_anchor,
        metavar="SEQ:HASH",
        help="a record noted earlier that must still be in the chain (repeatable)",
    )

    dump = actions.add_parser("export", help="write the chain as JSON lines")
    dump.add_argument("--db", required=True, help="the stack's database URL")
    dump.add_argument("--after", type=int, default=0, help="only records after SEQ")
    dump.add_argument("--output", "-o", type=Path, help="file (default stdout)")
    return parser


def _anchor(text: str) -> audit.Head:
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not SEQ:HASH (a record number and its 64-digit hash)"
        )
    return audit.Head(int(seq), digest.lower())


def main(argv: Sequence[str] | None = None, stdout: IO[str] | None = None) -> int:
    options = parser().parse_args(argv)
    out = stdout or sys.stdout
    try:
        if options.action == "export":
            return _export(options, out)
        return _verify(options, out)
    except UsageError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    except SQLAlchemyError as error:
        cause = getattr(error, "orig", None) or type(error).__name__
        print(f"{PROG}: cannot read the audit tables: {cause}", file=sys.stderr)
        return 2


def _verify(options: argparse.Namespace, out: IO[str]) -> int:
    records, head = _chain(options)
    result = audit.verify(records, head=head, anchors=options.anchor)
    if result.ok:
        last = result.last
        tail = f"; head seq {last.seq} hash {last.hash}" if last else ""
        print(f"audit chain ok: {result.count} records{tail}", file=out)
        return 0
    for problem in result.problems:
        print(problem, file=out)
    kinds = ", ".join(sorted(result.kinds))
    print(
        f"audit chain BROKEN: {len(result.problems)} problems ({kinds}) "
        f"in {result.count} records",
        file=out,
    )
    return 1


def _chain(options: argparse.Namespace):
    if options.jsonl is not None:
        try:
            with options.jsonl.open(encoding="utf-8") as file:
                return audit.read_jsonl(file)
        except (OSError, ValueError) as error:
            raise UsageError(f"{options.jsonl}: {error}") from None
    with _connection(options.db) as connection:
        return list(audit.read_records(connection)), audit.read_head(connection)


def _export(options: argparse.Namespace, out: IO[str]) -> int:
    with _connection(options.db) as connection:
        records = audit.read_records(connection, after=options.after)
        head = audit.read_head(connection)
        if options.output is None:
            count = audit.export_jsonl(records, out, head)
        else:
            with options.output.open("w", encoding="utf-8") as file:
                count = audit.export_jsonl(records, file, head)
    print(f"exported {count} records", file=sys.stderr)
    return 0


class _connection:
    """A look at the database; a bad URL is a usage error (never echoed: it
    may hold a password)."""

    def __init__(self, url: str) -> None:
        try:
            self.url = make_url(url)
        except ArgumentError:
            raise UsageError(
                "--db is not a SQLAlchemy URL (e.g. sqlite:///stack.db, "
                "postgresql+psycopg://user@host/db)"
            ) from None

    def __enter__(self):
        try:
            self._engine = create_engine(self.url)
        except ImportError as error:
            raise UsageError(f"the database driver is missing: {error}") from None
        self._connection = self._engine.connect()
        return self._connection

    def __exit__(self, *exc_info) -> None:
        self._connection.close()
        self._engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
