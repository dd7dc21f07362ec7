"""A small hand-written schema checker for YAML documents with line numbers.

Specs describe what a value must be; `check` walks a document and raises a
ScenarioError at the line of the first value that does not fit, with a fix
written for a person (the closest allowed key, an example of the right type).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.errors import ScenarioError
from harness.yamlfile import Document


@dataclass(frozen=True)
class Field:
    spec: Spec
    required: bool = False
    example: str = ""


class Spec:
    describe = "a value"
    example = ""

    def check(self, doc: Document, value: Any, at: tuple) -> None:
        raise NotImplementedError

    def wrong_type(self, doc: Document, value: Any, at: tuple):
        fix = f"write {self.describe}" + (
            f", e.g. {self.example}" if self.example else ""
        )
        return doc.error(
            at, f"{_name(at)} must be {self.describe}, not {_show(value)}", fix
        )


def _name(at: tuple) -> str:
    parts = [f"[{part}]" if isinstance(part, int) else str(part) for part in at]
    return "'" + ".".join(parts).replace(".[", "[") + "'" if parts else "the file"


def _show(value: Any) -> str:
    kinds = {dict: "a mapping", list: "a list", bool: "a boolean", type(None): "null"}
    kind = kinds.get(type(value))
    if kind in ("a mapping", "a list"):
        return kind
    return f"{value!r}" + (f" ({kind})" if kind else "")


class AnyValue(Spec):
    describe = "any value"

    def check(self, doc, value, at) -> None:
        return None


@dataclass
class Str(Spec):
    pattern: str | None = None
    choices: tuple[str, ...] = ()
    describe: str = "a string"
    example: str = ""

    def check(self, doc, value, at) -> None:
        if not isinstance(value, str):
            raise self.wrong_type(doc, value, at)
        if self.choices and value not in self.choices:
            raise doc.error(
                at,
                f"{_name(at)} is {value!r}, which is not one of {list(self.choices)}",
                suggest(value, self.choices)
                + "write one of: "
                + ", ".join(self.choices),
            )
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise self.wrong_type(doc, value, at)


@dataclass
class Typed(Spec):
    types: tuple[type, ...]
    describe: str
    example: str = ""
    valid: Callable[[Any], bool] = lambda value: True

    def check(self, doc, value, at) -> None:
        is_bool = isinstance(value, bool) and bool not in self.types
        if is_bool or not isinstance(value, self.types) or not self.valid(value):
            raise self.wrong_type(doc, value, at)


BOOL = Typed((bool,), "true or false", "true")
SCALAR = Typed((str, int, float, bool, type(None)), "a string, number, boolean or null")
NUMBER = Typed((int, float), "a number", "2.0", lambda value: value >= 0)


@dataclass
class ListOf(Spec):
    item: Spec
    min_items: int = 0
    describe: str = "a list"
    example: str = ""

    def check(self, doc, value, at) -> None:
        if not isinstance(value, list) or len(value) < self.min_items:
            raise self.wrong_type(doc, value, at)
        for index, item in enumerate(value):
            self.item.check(doc, item, (*at, index))


@dataclass
class MapOf(Spec):
    value: Spec
    key: Spec = field(default_factory=lambda: Str(describe="a string key"))
    min_items: int = 0
    describe: str = "a mapping"
    example: str = ""

    def check(self, doc, value, at) -> None:
        if not isinstance(value, dict) or len(value) < self.min_items:
            raise self.wrong_type(doc, value, at)
        for key, item in value.items():
            self.key.check(doc, key, (*at, key))
            self.value.check(doc, item, (*at, key))


@dataclass
class OneOf(Spec):
    options: tuple[Spec, ...]
    describe: str = "a value"
    example: str = ""

    def check(self, doc, value, at) -> None:
        first_error = None
        for option in (one for one in self.options if _fits_type(one, value)):
            try:
                option.check(doc, value, at)
                return
            except ScenarioError as exc:
                first_error = first_error or exc
        raise first_error or self.wrong_type(doc, value, at)


def _fits_type(spec: Spec, value: Any) -> bool:
    if isinstance(spec, Record | MapOf):
        return isinstance(value, dict)
    if isinstance(spec, ListOf):
        return isinstance(value, list)
    if isinstance(spec, Str):
        return isinstance(value, str)
    if isinstance(spec, Typed):
        is_bool = isinstance(value, bool) and bool not in spec.types
        return isinstance(value, spec.types) and not is_bool
    return True


@dataclass
class Record(Spec):
    """A mapping with named fields; `exclusive` groups need exactly one key."""

    what: str
    fields: dict[str, Field]
    exclusive: tuple[tuple[str, ...], ...] = ()
    at_most_one: tuple[tuple[str, ...], ...] = ()
    example: str = ""

    @property
    def describe(self) -> str:  # type: ignore[override]
        return f"a mapping ({self.what})"

    def check(self, doc, value, at) -> None:
        if not isinstance(value, dict):
            raise self.wrong_type(doc, value, at)
        for key, item in value.items():
            if key not in self.fields:
                raise self._unknown(doc, key, at)
            self.fields[key].spec.check(doc, item, (*at, key))
        self._check_required(doc, value, at)
        self._check_exclusive(doc, value, at)

    def _unknown(self, doc, key, at):
        allowed = list(self.fields)
        return doc.error(
            (*at, key),
            f"unknown key {key!r} in {self.what}",
            f"{suggest(str(key), allowed)}the keys allowed here are: "
            + ", ".join(allowed),
        )

    def _check_required(self, doc, value, at) -> None:
        for name, spec in self.fields.items():
            if spec.required and name not in value:
                example = f" (e.g. `{spec.example}`)" if spec.example else ""
                raise doc.error(
                    at,
                    f"{self.what} is missing the required key {name!r}",
                    f"add `{name}:`{example}",
                )

    def _check_exclusive(self, doc, value, at) -> None:
        groups = [(group, False) for group in self.exclusive]
        for group, optional in groups + [(group, True) for group in self.at_most_one]:
            present = [name for name in group if name in value]
            if len(present) > 1 or (not optional and not present):
                raise doc.error(
                    at,
                    f"{self.what} has {' and '.join(present) or 'none'} of "
                    f"{' / '.join(group)}",
                    f"give {'at most' if optional else 'exactly'} one of: "
                    + ", ".join(group),
                )


def suggest(word: str, allowed) -> str:
    close = difflib.get_close_matches(word, list(allowed), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def check(spec: Spec, doc: Document) -> None:
    """Raise a ScenarioError at the first value of `doc` that `spec` rejects."""
    spec.check(doc, doc.data, ())
