"""`{{ ... }}` templates in scenario and profile values.

    {{agent_id}}             a variable (saved from a response, a matrix or case
                             value, or a built-in such as victim.tenant)
    {{body.items[0].id}}     dotted paths and list indexes into a value
    {{now - 3600}}           integer offsets (the item's pinned clock)
    {{theirs | upper}}       filters, applied left to right (see FILTERS)
    {{canary}}               a fresh canary, recorded as planted by the actor

A string that is exactly one template keeps the value's type (a number, a
mapping, null); a template inside a longer string is rendered as text, with
JSON for anything that is not a string. Values that came back from the target
are data, never templates: only matrix and case values are expanded again.
"""

from __future__ import annotations

import json
import math
import random
import re
import string
import urllib.parse
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

_TEMPLATE = re.compile(r"\{\{([^{}]*)\}\}")
_EXPR = re.compile(
    r"\s*(?P<path>[A-Za-z_]\w*(?:\.[A-Za-z_][\w-]*|\[\d+\])*)"
    r"\s*(?:(?P<op>[+-])\s*(?P<offset>\d+))?"
    r"\s*(?P<filters>(?:\|\s*[a-z_]+\s*)*)$"
)
_PATH_PART = re.compile(r"\.?([A-Za-z_][\w-]*)|\[(\d+)\]")
_MAX_DEPTH = 5


class TemplateError(Exception):
    """A template that cannot be expanded; the caller adds the file and line."""

    def __init__(self, problem: str, fix: str):
        super().__init__(problem)
        self.problem, self.fix = problem, fix


class Unavailable(TemplateError):
    """A fact the target profile does not provide; items that need it are skipped."""


class Facts(dict):
    """Facts about the target (`{{target.jwt_key}}`); a missing one is Unavailable."""


@dataclass(frozen=True)
class Template:
    """A value written by the scenario author (matrix, cases): expanded on use."""

    value: Any


@dataclass(frozen=True)
class Canary:
    value: str
    owner: str
    where: str


# Where values are drawn when no seeded generator is given: the system's.
SYSTEM_RANDOM = random.SystemRandom()


@dataclass
class Randomness:
    """Fresh random values, or a replay of the values a first expansion drew.

    Values come from `rng`: a generator seeded per item (`--seed`) makes a run
    reproducible; without one they come from the system. A control request
    replays the draws of the request it mirrors, so that the two differ only
    where a value was deliberately swapped.
    """

    tape: list[str] = field(default_factory=list)
    replaying: bool = False
    rng: random.Random = field(default=SYSTEM_RANDOM, repr=False)
    _position: int = 0

    def draw(self, make: Callable[[random.Random], str]) -> str:
        if not self.replaying:
            self.tape.append(make(self.rng))
            return self.tape[-1]
        tape = self.tape
        value = tape[self._position % len(tape)] if tape else make(self.rng)
        self._position += 1
        return value

    def replay(self) -> Randomness:
        return Randomness(list(self.tape), replaying=True, rng=self.rng)


def hex_digits(rng: random.Random, count: int) -> str:
    return f"{rng.getrandbits(4 * count):0{count}x}"


def new_canary(rng: random.Random = SYSTEM_RANDOM) -> str:
    return "cnry" + hex_digits(rng, 16)


def new_unique(rng: random.Random = SYSTEM_RANDOM) -> str:
    return hex_digits(rng, 12)


@dataclass
class Context:
    """The variables a template can read, and the canaries it has planted."""

    values: dict[str, Any] = field(default_factory=dict)
    actor: str = "victim"
    where: str = ""
    now: Callable[[], float] | None = None
    canaries: list[Canary] = field(default_factory=list)
    randomness: Randomness = field(default_factory=Randomness)
    overrides: dict[str, Any] = field(default_factory=dict)

    def lookup(self, path: str, depth: int = 0) -> Any:
        parts = _split_path(path)
        root, rest = parts[0], parts[1:]
        value = self._root(root, depth)
        for part in rest:
            value = _step_into(value, part, path)
        return value

    def _root(self, name: str, depth: int) -> Any:
        if name in self.overrides:
            return self.overrides[name]
        if name == "canary":
            return self._plant()
        if name == "unique":
            return self.randomness.draw(new_unique)
        if name == "now" and self.now is not None:
            return int(self.now())
        if name not in self.values:
            raise TemplateError(
                f"unknown variable {name!r}",
                f"use one of: {', '.join(sorted(self.known()))}, or save it first "
                "with `save:` in an earlier step",
            )
        value = self.values[name]
        return (
            expand(value.value, self, depth + 1)
            if isinstance(value, Template)
            else value
        )

    def _plant(self) -> str:
        value = self.randomness.draw(new_canary)
        if not self.randomness.replaying:
            self.canaries.append(Canary(value, self.actor, self.where))
        return value

    def known(self) -> set[str]:
        builtins = {"canary", "unique"} | ({"now"} if self.now else set())
        return set(self.values) | builtins

    def owned_by(self, owner: str) -> list[Canary]:
        return [canary for canary in self.canaries if canary.owner == owner]


def _split_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for match in _PATH_PART.finditer(path):
        name, index = match.groups()
        parts.append(name if name is not None else int(index))
    return parts


def _step_into(value: Any, part: str | int, path: str) -> Any:
    if isinstance(value, Facts) and part not in value:
        raise Unavailable(
            f"{path!r}: the target profile does not provide {part!r}",
            "add it to the target profile (see scenarios/README.md)",
        )
    if isinstance(part, int) and isinstance(value, list) and part < len(value):
        return value[part]
    if isinstance(part, str) and isinstance(value, Mapping):
        found = _get_key(value, part)
        if found is not _MISSING:
            return found
    raise TemplateError(
        f"{path!r}: {part!r} is not in {_brief(value)}",
        "check the name against what the response or variable really holds",
    )


_MISSING = object()


def _get_key(mapping: Mapping, key: str) -> Any:
    if key in mapping:
        return mapping[key]
    folded = {str(name).lower(): item for name, item in mapping.items()}
    return folded.get(key.lower(), _MISSING) if _is_header_map(mapping) else _MISSING


def _is_header_map(mapping: Mapping) -> bool:
    return getattr(mapping, "case_insensitive", False)


def _brief(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def expand(value: Any, context: Context, depth: int = 0) -> Any:
    """Expand every template in `value` (strings, lists, mapping keys and values)."""
    if depth > _MAX_DEPTH:
        raise TemplateError(
            "templates nest too deeply (a variable refers to itself?)",
            "make sure no matrix or case value refers back to itself",
        )
    if isinstance(value, str):
        return _expand_string(value, context, depth)
    if isinstance(value, list):
        return [expand(item, context, depth) for item in value]
    if isinstance(value, dict):
        return {
            str(expand(key, context, depth)): expand(item, context, depth)
            for key, item in value.items()
        }
    return value


def _expand_string(text: str, context: Context, depth: int) -> Any:
    whole = _TEMPLATE.fullmatch(text.strip()) if text.strip() == text else None
    if whole:
        return _evaluate(whole.group(1), context, depth)
    return _TEMPLATE.sub(
        lambda match: render(_evaluate(match.group(1), context, depth)), text
    )


def render(value: Any) -> str:
    """A value as it appears inside a longer string."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def _evaluate(expression: str, context: Context, depth: int) -> Any:
    match = _EXPR.fullmatch(expression)
    if not match:
        raise TemplateError(
            f"cannot read the template {{{{{expression}}}}}",
            "write {{name}}, {{name.key}}, {{name[0]}}, {{now - 60}} or "
            "{{name | filter}} with filters from: " + ", ".join(sorted(FILTERS)),
        )
    value = context.lookup(match["path"], depth)
    if match["op"]:
        value = _offset(value, match["op"], int(match["offset"]), match["path"])
    for name in re.findall(r"[a-z_]+", match["filters"] or ""):
        value = _filter(name)(value)
    return value


def _offset(value: Any, op: str, amount: int, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TemplateError(
            f"{path!r} is {value!r}, not an integer, so {op} {amount} cannot apply",
            "use an offset only on numbers such as {{now - 3600}}",
        )
    return value + amount if op == "+" else value - amount


def _filter(name: str) -> Callable[[Any], Any]:
    if name not in FILTERS:
        raise TemplateError(
            f"unknown filter {name!r}",
            f"use one of: {', '.join(sorted(FILTERS))}",
        )
    return FILTERS[name]


def _text(value: Any) -> str:
    return render(value)


def _bump(text: str, step: int) -> str:
    """The neighbouring ID: the last digit or letter moved by `step`, wrapping."""
    for index in range(len(text) - 1, -1, -1):
        for alphabet in (string.digits, string.ascii_lowercase, string.ascii_uppercase):
            if text[index] in alphabet:
                moved = alphabet[(alphabet.index(text[index]) + step) % len(alphabet)]
                return text[:index] + moved + text[index + 1 :]
    return text + ("1" if step > 0 else "0")


# Latin letters and Cyrillic letters drawn the same in most fonts.
_HOMOGLYPHS = str.maketrans(
    "aceopxyABCEHKMOPTX",
    "\u0430\u0441\u0435\u043e\u0440\u0445\u0443\u0410\u0412"
    "\u0421\u0415\u041d\u041a\u041c\u041e\u0420\u0422\u0425",
)


def _until_midnight(value: Any) -> int:
    """Seconds from `at` (Unix time) to the next 00:00 in `zone` (at least 1)."""
    if not isinstance(value, Mapping) or not {"zone", "at"} <= set(value):
        raise TemplateError(
            f"until_midnight reads {{zone, at}}, not {_brief(value)}",
            "give it a mapping such as {zone: Europe/Berlin, at: '{{now}}'}",
        )
    try:
        zone = zoneinfo.ZoneInfo(str(value["zone"]))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise TemplateError(
            f"until_midnight: {value['zone']!r} is not a time zone",
            "write an IANA name such as Europe/Berlin or Pacific/Kiritimati",
        ) from None
    at = datetime.fromtimestamp(float(value["at"]), UTC)
    midnight = datetime.combine(
        at.astimezone(zone).date() + timedelta(days=1), time(0), tzinfo=zone
    )
    return max(1, math.ceil((midnight - at).total_seconds()))


MAX_REPEAT = 16 * 1024 * 1024  # characters a `repeat` may make


def _repeat(value: Any) -> str:
    """`text` written `times` times: an oversized body without a huge file."""
    if not isinstance(value, Mapping) or not {"text", "times"} <= set(value):
        raise TemplateError(
            f"repeat reads {{text, times}}, not {_brief(value)}",
            "give it a mapping such as {text: x, times: 2000000}",
        )
    text, times = _text(value["text"]), value["times"]
    if not isinstance(times, int) or not 0 <= len(text) * times <= MAX_REPEAT:
        raise TemplateError(
            f"repeat: {times!r} times {len(text)} characters is not a whole "
            f"number of at most {MAX_REPEAT} characters",
            "repeat a shorter text, or fewer times",
        )
    return text * times


FILTERS: dict[str, Callable[[Any], Any]] = {
    "upper": lambda value: _text(value).upper(),
    "lower": lambda value: _text(value).lower(),
    "swapcase": lambda value: _text(value).swapcase(),
    "next": lambda value: _bump(_text(value), 1),
    "prev": lambda value: _bump(_text(value), -1),
    "urlencode": lambda value: urllib.parse.quote(_text(value), safe=""),
    "pct": lambda value: "".join(f"%{byte:02X}" for byte in _text(value).encode()),
    "homoglyph": lambda value: _text(value).translate(_HOMOGLYPHS),
    "json": lambda value: json.dumps(value, separators=(",", ":")),
    "str": _text,
    "int": lambda value: int(_text(value)) if _text(value).isdigit() else value,
    "until_midnight": _until_midnight,
    "repeat": _repeat,
}


def is_whole(value: Any) -> bool:
    """Whether `value` is a string that is exactly one template."""
    return isinstance(value, str) and _TEMPLATE.fullmatch(value) is not None


def names_in(value: Any) -> set[str]:
    """The root variable names `value`'s templates read (for static checks)."""
    found: set[str] = set()
    if isinstance(value, str):
        for expression in _TEMPLATE.findall(value):
            match = _EXPR.fullmatch(expression)
            if match:
                found.add(str(_split_path(match["path"])[0]))
    elif isinstance(value, list):
        for item in value:
            found |= names_in(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            found |= names_in(key) | names_in(item)
    return found


def bad_templates(value: Any) -> list[str]:
    """Templates in `value` that do not parse, to report at load time."""
    if isinstance(value, str):
        return [
            expression
            for expression in _TEMPLATE.findall(value)
            if not _EXPR.fullmatch(expression)
            or any(name not in FILTERS for name in _filters_of(expression))
        ]
    if isinstance(value, dict):
        return [
            bad
            for pair in value.items()
            for part in pair
            for bad in bad_templates(part)
        ]
    if isinstance(value, list):
        return [bad for item in value for bad in bad_templates(item)]
    return []


def _filters_of(expression: str) -> list[str]:
    match = _EXPR.fullmatch(expression)
    return re.findall(r"[a-z_]+", match["filters"] or "") if match else []
