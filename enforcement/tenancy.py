"""Tenant-scoped database access, enforced three times over.

1. The ORM: inside a tenant context every SELECT, UPDATE and DELETE on a
   tenant model gets `tenant_id = <tenant>` added (joins and relationship
   loads included), and every INSERT takes `tenant_id` from the context; a
   row that names another tenant is refused at flush.
2. The statement guard: every SQL statement the driver is about to execute,
   ORM or Core, is read, and one that touches a tenant table without a
   `tenant_id` predicate bound to the current tenant is refused.
3. PostgreSQL row-level security: each transaction sets `app.tenant_id` with
   `set_config(..., true)` (the same as `SET LOCAL`), and the tables' policies
   compare every row with it (see `rls_statements`).

Outside a tenant context tenant tables cannot be used at all, except inside
`operator_scope`, which is itself reported to an audit callback.

    tenancy = Tenancy({"agents": "tenant_id", "tenants": "id"}, on_operator=audit)
    tenancy.install(engine, sessionmaker_or_session_class)
    with sessions() as session:
        tenancy.enter(session, "acme")
        session.scalars(select(Agent))          # only acme's agents
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, String, event
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    declared_attr,
    mapped_column,
    with_loader_criteria,
)

from enforcement.errors import TenantGuardError, UsageError

log = logging.getLogger("tenantguard.enforcement")

TENANT_KEY = "tenantguard.tenant_id"
OPERATOR_KEY = "tenantguard.operator_reason"
RLS_SETTING = "app.tenant_id"
RLS_OPERATOR_SETTING = "app.operator"


class TenantIsolationError(TenantGuardError):
    """A statement or row would cross the tenant boundary; it was not executed."""


class TenantOwnedMixin:
    """For ORM models whose rows belong to one tenant.

    `tenant_id` is part of the primary key, so the ORM's own UPDATE and DELETE
    by primary key carry the tenant predicate too.
    """

    @declared_attr
    def tenant_id(cls) -> Mapped[str]:
        return mapped_column(String(63), primary_key=True)


@dataclass
class Tenancy:
    """The tenant tables, and the hooks that keep every statement inside one tenant.

    `tables` maps each tenant table to the column naming its tenant.
    `on_operator(reason, statement)` is called for every statement run in an
    operator scope (the audited way to look across tenants).
    """

    tables: Mapping[str, str]
    model_base: type = TenantOwnedMixin
    on_operator: Callable[[str, str], None] | None = None
    recorder: StatementRecorder | None = None
    _patterns: dict[str, re.Pattern] = field(default_factory=dict, init=False)

    def install(self, engine: Engine, sessions: Any) -> None:
        """Attach the ORM criteria, the flush check and the statement guard."""
        event.listen(sessions, "do_orm_execute", self._add_tenant_criteria)
        event.listen(sessions, "before_flush", self._check_new_rows)
        event.listen(sessions, "after_begin", self._bind_connection)
        event.listen(
            engine, "before_cursor_execute", self._guard_statement, retval=False
        )

    # -- context -------------------------------------------------------

    @staticmethod
    def enter(session: Session, tenant_id: str) -> None:
        """Put `session` in `tenant_id`'s context; set once, before any query."""
        current = session.info.get(TENANT_KEY)
        if current is not None and current != tenant_id:
            raise UsageError(
                f"session is already in tenant {current!r}; use a new session for {tenant_id!r}"
            )
        if session.in_transaction():
            raise UsageError(
                "enter the tenant context before the session's first query"
            )
        session.info[TENANT_KEY] = tenant_id

    @staticmethod
    @contextlib.contextmanager
    def operator_scope(session: Session, reason: str) -> Iterator[Session]:
        """Let `session` see every tenant for `reason`; each statement is audited.

        The scope lasts for one transaction of its own, so no statement of the
        tenant context runs with operator rights.
        """
        if not reason:
            raise UsageError("an operator scope needs a reason, e.g. 'audit lookup'")
        if session.in_transaction():
            raise UsageError(
                "open the operator scope on a fresh session (no transaction in progress)"
            )
        session.info[OPERATOR_KEY] = reason
        try:
            yield session
        finally:
            session.rollback() if session.in_transaction() else None
            session.info.pop(OPERATOR_KEY, None)

    # -- layer 1: the ORM ----------------------------------------------

    def _add_tenant_criteria(self, state: ORMExecuteState) -> None:
        tenant_id = state.session.info.get(TENANT_KEY)
        if tenant_id is None or state.session.info.get(OPERATOR_KEY):
            return
        if state.is_select or state.is_update or state.is_delete:
            state.statement = state.statement.options(
                with_loader_criteria(
                    self.model_base,
                    lambda cls: cls.tenant_id == tenant_id,
                    include_aliases=True,
                )
            )

    def _check_new_rows(
        self, session: Session, flush_context: Any, instances: Any
    ) -> None:
        tenant_id = session.info.get(TENANT_KEY)
        if session.info.get(OPERATOR_KEY):
            return
        for row in [*session.new, *session.dirty]:
            if not isinstance(row, self.model_base):
                continue
            if tenant_id is None:
                raise TenantIsolationError(
                    f"cannot write {type(row).__name__} outside a tenant context"
                )
            if row.tenant_id is None:
                row.tenant_id = tenant_id
            elif row.tenant_id != tenant_id:
                raise TenantIsolationError(
                    f"a {type(row).__name__} row names another tenant; refused"
                )

    # -- layer 3: PostgreSQL row-level security --------------------------

    def _bind_connection(
        self, session: Session, transaction: Any, connection: Any
    ) -> None:
        tenant_id = session.info.get(TENANT_KEY)
        operator = session.info.get(OPERATOR_KEY)
        connection.execution_options(
            **{TENANT_KEY: None if operator else tenant_id, OPERATOR_KEY: operator}
        )
        if connection.dialect.name == "postgresql":
            # is_local=true: the settings end with the transaction, so a
            # pooled connection never carries them to the next tenant.
            connection.exec_driver_sql(
                "SELECT set_config(%(tenant)s, %(tenant_id)s, true), "
                "set_config(%(operator)s, %(on)s, true)",
                {
                    "tenant": RLS_SETTING,
                    "tenant_id": tenant_id or "",
                    "operator": RLS_OPERATOR_SETTING,
                    "on": "on" if operator else "off",
                },
            )

    # -- layer 2: the statement guard -----------------------------------

    def _guard_statement(
        self,
        conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        touched = self.tenant_tables_in(statement)
        options = conn.get_execution_options()
        operator = options.get(OPERATOR_KEY)
        if touched and operator:
            if self.on_operator is not None:
                self.on_operator(operator, statement)
        elif touched:
            try:
                self._require_tenant_predicate(
                    statement, parameters, executemany, touched, options.get(TENANT_KEY)
                )
            except TenantIsolationError:
                if self.recorder is not None:
                    self.recorder.refused += 1
                raise
        if self.recorder is not None:
            self.recorder.record(statement, touched, operator=bool(operator))

    def tenant_tables_in(self, statement: str) -> list[tuple[str, str]]:
        """(table, alias) for each place the SQL text names a tenant table."""
        if not self._patterns:
            self._patterns.update(
                {table: _table_reference(table) for table in self.tables}
            )
        return [
            (table, match.group("alias") or table)
            for table, pattern in self._patterns.items()
            for match in pattern.finditer(statement)
        ]

    def _require_tenant_predicate(
        self, statement, parameters, executemany, touched, tenant_id
    ) -> None:
        if tenant_id is None:
            raise TenantIsolationError(
                f"tenant table used outside a tenant context: {_short(statement)}"
            )
        rows = parameters if executemany else [parameters]
        for row in rows:
            for table, alias in touched:
                bound = _bound_tenant_values(
                    statement, row, table, alias, self.tables[table]
                )
                if not bound or any(value != tenant_id for value in bound):
                    raise TenantIsolationError(
                        f"statement on {table} lacks a tenant predicate bound to the current tenant: "
                        f"{_short(statement)}"
                    )


_NOT_AN_ALIAS = (
    "WHERE|SET|ON|JOIN|LEFT|RIGHT|FULL|INNER|OUTER|CROSS|NATURAL|ORDER|GROUP|"
    "HAVING|LIMIT|OFFSET|VALUES|USING|RETURNING|FOR|UNION|AND|OR|DEFAULT"
)


def _table_reference(table: str) -> re.Pattern:
    """Where the SQL text names `table` as a table (bare, quoted or
    schema-qualified, anywhere: FROM, JOIN, a comma list, UPDATE, INTO),
    never as the qualifier of a column (`table.column`), with its alias."""
    return re.compile(
        rf'(?<![\w"])"?{re.escape(table)}"?(?!\w)(?!"?\s*\.)'
        rf'(?:\s+(?:AS\s+)?"?(?P<alias>(?!(?:{_NOT_AN_ALIAS})\b)\w+)"?)?',
        re.IGNORECASE,
    )


_PLACEHOLDER = r"(?:\?|%\((?P<name>[^)]+)\)s)"


def _bound_tenant_values(
    statement: str, row: Any, table: str, alias: str, column: str
) -> list[Any]:
    if statement.lstrip().upper().startswith("INSERT"):
        return _inserted_values(statement, row, column)
    pattern = re.compile(rf'"?{re.escape(alias)}"?\."?{column}"?\s*=\s*{_PLACEHOLDER}')
    values = [
        _parameter(statement, row, match) for match in pattern.finditer(statement)
    ]
    if not values and alias == table:
        # A single-table UPDATE or DELETE may name the column unqualified.
        pattern = re.compile(rf'(?<![.\w"])"?{column}"?\s*=\s*{_PLACEHOLDER}')
        values = [
            _parameter(statement, row, match) for match in pattern.finditer(statement)
        ]
    return values


def _inserted_values(statement: str, row: Any, column: str) -> list[Any]:
    """The values an INSERT gives `column`, one per VALUES group."""
    header = re.search(r"\(([^)]*)\)\s*VALUES", statement, re.IGNORECASE)
    if header is None:
        return []
    columns = [name.strip().strip('"') for name in header.group(1).split(",")]
    if column not in columns:
        return []
    index, values = columns.index(column), []
    for start, items in _value_groups(statement, header.end()):
        if len(items) != len(columns):
            continue
        before = statement[:start] + ",".join(items[:index])
        values.append(_placeholder_value(row, items[index].strip(), before.count("?")))
    return values


def _value_groups(statement: str, position: int) -> Iterator[tuple[int, list[str]]]:
    """Each top-level parenthesised group after VALUES: (its start, its items).

    Placeholders such as `%(name)s` hold parentheses of their own, so groups
    and items are split only at depth zero and one respectively.
    """
    depth, start, items, item_start = 0, 0, [], 0
    for offset, char in enumerate(statement[position:], position):
        if char == "(":
            depth += 1
            if depth == 1:
                start, items, item_start = offset + 1, [], offset + 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                items.append(statement[item_start:offset])
                yield start, items
        elif char == "," and depth == 1:
            items.append(statement[item_start:offset])
            item_start = offset + 1


def _placeholder_value(row: Any, placeholder: str, position: int) -> Any:
    named = re.fullmatch(r"%\(([^)]+)\)s(?:::\w+)?", placeholder)
    if named:
        return row[named.group(1)]
    if placeholder == "?":
        return _positional(row, position)
    return object()  # a literal: never equal to the tenant, so refused


def _parameter(statement: str, row: Any, match: re.Match) -> Any:
    if match.group("name"):
        return row[match.group("name")]
    return _positional(row, statement[: match.end()].count("?") - 1)


def _positional(row: Any, index: int) -> Any:
    if isinstance(row, Sequence) and not isinstance(row, str) and index < len(row):
        return row[index]
    return object()


def _short(statement: str, limit: int = 200) -> str:
    flat = " ".join(statement.split())
    return flat if len(flat) <= limit else flat[:limit] + " ..."


@dataclass
class StatementRecorder:
    """Counts the statements a run sends, to prove none lacked its predicate."""

    on_tenant_tables: int = 0
    refused: int = 0
    operator: int = 0
    other: int = 0
    tables: dict[str, int] = field(default_factory=dict)

    def record(
        self, statement: str, touched: list[tuple[str, str]], *, operator: bool
    ) -> None:
        if not touched:
            self.other += 1
            return
        if operator:
            self.operator += 1
        else:
            self.on_tenant_tables += 1
        for table, _ in touched:
            self.tables[table] = self.tables.get(table, 0) + 1

    def summary(self) -> str:
        per_table = ", ".join(
            f"{table} {count}" for table, count in sorted(self.tables.items())
        )
        return (
            f"{self.on_tenant_tables} statements on tenant tables with a tenant predicate "
            f"({per_table}); {self.refused} refused for lacking one; "
            f"{self.operator} in operator scope; {self.other} on other tables"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "on_tenant_tables": self.on_tenant_tables,
            "refused": self.refused,
            "operator": self.operator,
            "other": self.other,
            "tables": dict(self.tables),
        }


def rls_statements(tables: Mapping[str, str], app_role: str = "PUBLIC") -> list[str]:
    """PostgreSQL DDL: row-level security on every tenant table for `app_role`.

    Run as the tables' owner. The application should connect as a role that
    owns no table and has no BYPASSRLS; FORCE makes the policies apply to the
    owner as well, so only a superuser escapes them. Rows of the
    transaction's tenant only; an operator scope may read every tenant's rows
    but write none.
    """
    operator = f"current_setting('{RLS_OPERATOR_SETTING}', true) = 'on'"
    statements = []
    for table, column in tables.items():
        own_rows = f"\"{column}\" = current_setting('{RLS_SETTING}', true)"
        statements += [
            f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY',
            f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY',
            f'DROP POLICY IF EXISTS tenant_rows ON "{table}"',
            f'DROP POLICY IF EXISTS operator_reads ON "{table}"',
            f'CREATE POLICY tenant_rows ON "{table}" TO {_role(app_role)} '
            f"USING ({own_rows}) WITH CHECK ({own_rows})",
            f'CREATE POLICY operator_reads ON "{table}" FOR SELECT TO {_role(app_role)} USING ({operator})',
        ]
    return statements


def _role(name: str) -> str:
    return name if name == "PUBLIC" else f'"{name}"'
