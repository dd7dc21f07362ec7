"""The declaration beside the policies: which rule decides what, and where it
reads its input (`invariants.toml`, see policies/invariants.toml).

A bad file is a usage error that names the file, the line and the fix.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from enforcement.errors import UsageError

FILE_NAME = "invariants.toml"
FAMILIES = ("access", "storage", "limits", "features", "keys")
FIELD_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
ENTRY_POINT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(/[A-Za-z_][A-Za-z0-9_-]*)+$")

# Section -> key -> kind of value. Every key of a written section is required.
SCHEMA: dict[str, dict[str, str]] = {
    "tenants": {"data": "field", "roles": "words"},
    "subject": {"tenant": "field", "roles": "field"},
    "access": {
        "entry_point": "entry_point",
        "action": "field",
        "actions": "words",
        "resource_type": "field",
        "resource_types": "words",
        "resource_tenant": "field",
        "resource_id": "field",
    },
    "storage": {
        "entry_point": "entry_point",
        "action": "field",
        "actions": "words",
        "path": "field",
        "root": "root",
    },
    "limits": {
        "entry_point": "entry_point",
        "kind": "field",
        "current": "field",
        "config": "field",
        "kinds": "word_map",
    },
    "features": {"entry_point": "entry_point", "feature": "field", "config": "field"},
    "keys": {"entry_point": "entry_point", "key_tenant": "field", "key_id": "field"},
}

EXAMPLES = {
    "field": 'a dotted input path such as "subject.tenant"',
    "entry_point": 'a decision path such as "tenantguard/access/decision"',
    "words": 'a list of strings such as ["read", "list"]',
    "word_map": 'an inline table of strings such as { agents = "max_agents" }',
    "root": 'a path prefix holding {tenant} once, such as "storage/tenants/{tenant}/"',
}


class DeclarationError(UsageError):
    """A malformed declaration file, located at `path:line`."""

    def __init__(self, path: Path, line: int | None, problem: str, fix: str):
        self.path, self.line = Path(path), line
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {problem}\n  fix: {fix}")


@dataclass(frozen=True)
class Declaration:
    path: Path
    sections: dict[str, dict[str, Any]]

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(name for name in FAMILIES if name in self.sections)

    def entry_point(self, family: str) -> str:
        return self.sections[family]["entry_point"]

    def field(self, family: str, name: str) -> str:
        return self.sections[family][name]

    def words(self, family: str, name: str) -> tuple[str, ...]:
        return tuple(self.sections[family][name])

    @property
    def tenants_data(self) -> str:
        return self.sections["tenants"]["data"]

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self.sections["tenants"]["roles"])

    def tenant_fields(self) -> tuple[str, ...]:
        """Every input path that holds a tenant ID, the subject's first."""
        paths = [self.field("subject", "tenant")]
        for family, name in (("access", "resource_tenant"), ("keys", "key_tenant")):
            if family in self.sections and self.field(family, name) not in paths:
                paths.append(self.field(family, name))
        return tuple(paths)


def find(policy_dir: Path) -> Path:
    return Path(policy_dir) / FILE_NAME


def load(path: Path) -> Declaration:
    """Read and check a declaration file, or raise DeclarationError."""
    path = Path(path)
    if not path.is_file():
        fix = (
            f"copy policies/{FILE_NAME} of tenantguard beside your policies and "
            "point each entry_point and field at your rules"
        )
        raise DeclarationError(path, None, "no declaration file", fix)
    file = _File(path, path.read_text(encoding="utf-8"))
    document = file.parse()
    _check_top(file, document)
    for section, values in document.items():
        if section != "version":
            _check_section(file, section, values)
    return Declaration(path, {k: v for k, v in document.items() if k != "version"})


@dataclass(frozen=True)
class _File:
    path: Path
    text: str

    def parse(self) -> dict:
        try:
            return tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as exc:
            found = re.search(r"line (\d+)", str(exc))
            line = int(found.group(1)) if found else None
            fix = 'correct the TOML syntax there (quote strings, `key = "value"`)'
            raise DeclarationError(
                self.path, line, f"invalid TOML: {exc}", fix
            ) from None

    def error(self, section, key, problem: str, fix: str) -> DeclarationError:
        """An error at `[section]` (or its `key`); section None is the top."""
        return DeclarationError(self.path, _line(self.text, section, key), problem, fix)


def _check_top(file: _File, document: dict) -> None:
    version = document.get("version")
    if version != 1:
        fix = "write `version = 1` at the top of the file"
        raise file.error(None, "version", f"version must be 1, got {version!r}", fix)
    for section in document:
        if section != "version" and section not in SCHEMA:
            fix = f"use only {', '.join(f'[{name}]' for name in SCHEMA)}"
            raise file.error(section, None, f"unknown table [{section}]", fix)
    for required in ("tenants", "subject"):
        if required not in document:
            fix = f"add [{required}] with {', '.join(SCHEMA[required])}"
            raise file.error("", None, f"the table [{required}] is missing", fix)
    if not any(family in document for family in FAMILIES):
        fix = f"add at least one of {', '.join(f'[{name}]' for name in FAMILIES)}"
        raise file.error("", None, "no rule is declared", fix)


def _check_section(file: _File, section: str, values: Any) -> None:
    schema = SCHEMA[section]
    if not isinstance(values, dict):
        fix = f"write [{section}] on its own line, then its keys"
        raise file.error(None, section, f"{section} must be a table", fix)
    for key in values:
        if key not in schema:
            problem = f"unknown key {key!r} in [{section}]"
            raise file.error(section, key, problem, f"use only {', '.join(schema)}")
    for key, kind in schema.items():
        if key not in values:
            fix = f"add `{key} = ...`: {EXAMPLES[kind]}"
            raise file.error(section, None, f"[{section}] has no {key}", fix)
        if not _valid(kind, values[key]):
            problem = f"{section}.{key} is {values[key]!r}"
            raise file.error(section, key, problem, f"write {EXAMPLES[kind]}")


def _valid(kind: str, value: Any) -> bool:
    if kind == "field":
        return isinstance(value, str) and bool(FIELD_PATH.match(value))
    if kind == "entry_point":
        return isinstance(value, str) and bool(ENTRY_POINT.match(value))
    if kind == "words":
        return _is_words(value)
    if kind == "word_map":
        return isinstance(value, dict) and bool(value) and _is_words([*value.values()])
    return (
        isinstance(value, str)
        and value.count("{tenant}") == 1
        and value.endswith("{tenant}/")
    )


def _is_words(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(word, str) and word for word in value)
    )


def _line(text: str, section: str | None, key: str | None = None) -> int | None:
    """The line of `[section]` (or of `key` inside it); None when not written."""
    current = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = re.match(r"^\[\s*([A-Za-z0-9_-]+)\s*\]", line)
        if header:
            current = header.group(1)
            if key is None and current == section:
                return number
        elif key and current == section and re.match(rf"^{re.escape(key)}\s*=", line):
            return number
    return None
