"""Scenario files: their schema, their loading, and their variants.

A scenario is one YAML file that reads like the attack (see scenarios/README.md):
setup steps run as the victim and plant canaries, attack steps run as the
attacker, and each attack step says what must come back. `matrix` and `cases`
turn one file into several variants, each one pytest item.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import archives, schema, techniques, template, yamlfile
from harness.schema import (
    BOOL,
    SCALAR,
    AnyValue,
    Field,
    ListOf,
    MapOf,
    OneOf,
    Record,
    Str,
    Typed,
)
from harness.yamlfile import Document

ACTORS = ("victim", "attacker", "operator")
SIGNATURES = ("sign", "keep", "empty", "omit")
BUILTINS = frozenset({"canary", "unique", "now", "victim", "attacker", "target"})
# ATTACKS.md: each group's technique numbers.
GROUPS = {group.letter: group.numbers for group in techniques.GROUPS}
MAX_BURST = 200  # requests one burst step may release at once
SAVE_EXPRESSION = r"(status|id|parent|headers\.[\w-]+|body(\.[\w-]+|\[\d+\])*)"

# A whole-value template ('{{headers}}'), for fields a matrix or case fills in.
TEMPLATE = Str(pattern=r"\{\{[^{}]+\}\}", describe="a template such as '{{headers}}'")


def _or_template(spec, describe: str, example: str = ""):
    return OneOf((spec, TEMPLATE), describe=describe, example=example)


STATUS = OneOf(
    (
        Typed((int,), "an HTTP status", "404", lambda value: 100 <= value <= 599),
        Str(
            pattern=r"[1-5]xx", describe="a status such as 404 or a class such as '4xx'"
        ),
    ),
    describe="an HTTP status (404) or a class ('4xx')",
    example="404",
)
STATUSES = OneOf(
    (STATUS, ListOf(STATUS, min_items=1)),
    describe="a status, a class such as '4xx', or a list of them",
    example="[400, 404]",
)
_NAME = r"(\{\{[^}]+\}\}|[a-z_][a-z0-9_]*)"
ENDPOINT = Str(
    pattern=rf"{_NAME}(\.{_NAME})?",
    describe="a profile endpoint such as 'agent.item', 'agent.list', "
    "'agent.batch_read' or 'admin_audit'",
    example="agent.item",
)
REWRITE = OneOf(
    (ListOf(Str(), min_items=2), TEMPLATE),
    describe="[pattern, replacement]: a regular expression and what replaces it",
    example='["^/v1/", "/v2/"]',
)
MULTIPART_PART = OneOf(
    (
        SCALAR,
        Record(
            "a multipart file part",
            {
                "filename": Field(Str(), True, "filename: ../../etc/passwd"),
                "content": Field(Str()),
                "content_type": Field(Str()),
            },
        ),
    ),
    describe="a value, or {filename, content, content_type} for a file",
    example="{filename: report.txt, content: hello}",
)
ARCHIVE_MEMBER = Record(
    "an archive member",
    {
        "name": Field(Str(), True, "name: ../../etc/passwd"),
        "content": Field(Str()),
        "symlink": Field(Str(describe="the link's target, as written")),
        "hardlink": Field(Str(describe="the link's target, as written")),
    },
    at_most_one=(("content", "symlink", "hardlink"),),
)
ARCHIVE = Record(
    "an archive body",
    {
        "format": Field(
            _or_template(Str(choices=archives.FORMATS), "zip, tar or tar.gz"),
            False,
            "format: tar",
        ),
        "members": Field(
            _or_template(
                ListOf(
                    ARCHIVE_MEMBER,
                    min_items=1,
                    describe="a non-empty list of members",
                    example="[{name: ../x, content: planted}]",
                ),
                "a non-empty list of members",
            ),
            True,
            "members: [{name: ../x, content: planted}]",
        ),
    },
)
_REQUEST_FIELDS = {
    "method": Field(Str(), False, "method: GET"),
    "path": Field(Str(describe="a path such as '/v1/agents/{{agent_id}}'")),
    "endpoint": Field(ENDPOINT),
    "rewrite": Field(REWRITE),
    "id": Field(AnyValue()),
    "parent": Field(AnyValue()),
    "query": Field(
        OneOf(
            (MapOf(AnyValue()), ListOf(ListOf(AnyValue(), min_items=2)), TEMPLATE),
            describe="a mapping, a list of [name, value] pairs, or '{{name}}'",
            example="[[id, mine], [id, theirs]]",
        )
    ),
    "headers": Field(
        _or_template(MapOf(SCALAR), "a mapping of header names to values")
    ),
    "json": Field(AnyValue()),
    "body": Field(Str()),
    "form": Field(_or_template(MapOf(SCALAR), "a mapping of form fields")),
    "multipart": Field(_or_template(MapOf(MULTIPART_PART), "a mapping of parts")),
    "archive": Field(_or_template(ARCHIVE, "{format, members}: a zip or tar")),
}
REQUEST = Record("a request", _REQUEST_FIELDS, exclusive=(("path", "endpoint"),))
BURST_REQUEST = Record(
    "a burst request",
    {
        **_REQUEST_FIELDS,
        "repeat": Field(
            Typed((int,), "a whole number from 1", "20", lambda n: 1 <= n <= MAX_BURST)
        ),
    },
    exclusive=(("path", "endpoint"),),
)
BODY_KEYS = ("json", "body", "form", "multipart", "archive")
AUTH = Record(
    "auth",
    {
        "token": Field(
            Str(choices=("own", "none", "raw", "forged")), True, "token: own"
        ),
        "value": Field(Str()),
        "roles": Field(_or_template(ListOf(Str()), "a list of role names")),
        "alg": Field(Str(example="none")),
        "key": Field(Str()),
        "claims": Field(_or_template(MapOf(AnyValue()), "a mapping of claims")),
        "drop": Field(_or_template(ListOf(Str()), "a list of claim names")),
        "header": Field(
            _or_template(MapOf(AnyValue()), "a mapping of JOSE header fields")
        ),
        "signature": Field(
            _or_template(
                Str(choices=SIGNATURES), "one of: " + ", ".join(SIGNATURES), "keep"
            )
        ),
    },
)
COUNT = OneOf(
    (Typed((int,), "a whole number", "10", lambda n: n >= 0), TEMPLATE),
    describe="a whole number or a template such as '{{limit}}'",
    example="10",
)
EXPECT = Record(
    "expect",
    {
        "status": Field(STATUSES),
        "no_2xx": Field(BOOL),
        "no_canary": Field(BOOL),
        "indistinguishable_from_missing": Field(BOOL),
        "audit": Field(
            MapOf(SCALAR, min_items=1, example="{event: cross_tenant_attempt}")
        ),
        "absent": Field(ListOf(Str())),
        "fields": Field(MapOf(AnyValue(), example="{body.name: '{{old_name}}'}")),
        "close_to": Field(
            MapOf(
                ListOf(AnyValue(), min_items=2),
                min_items=1,
                example="{headers.Retry-After: ['{{local | until_midnight}}', 5]}",
            )
        ),
        "succeeded": Field(
            Record(
                "the count of 2xx answers in a burst",
                {"min": Field(COUNT), "max": Field(COUNT)},
            )
        ),
    },
)
STEP = Record(
    "a step",
    {
        "name": Field(Str()),
        "as": Field(Str(choices=ACTORS)),
        "create": Field(
            Str(describe="a resource name from the profile", example="agent")
        ),
        "parent": Field(AnyValue()),
        "request": Field(REQUEST),
        "burst": Field(ListOf(BURST_REQUEST, min_items=1)),
        "auth": Field(AUTH),
        "save": Field(
            MapOf(
                Str(
                    pattern=SAVE_EXPRESSION,
                    describe="a response path: status, id, parent, headers.NAME "
                    "or body.a.b[0]",
                    example="body.id",
                )
            )
        ),
        "expect": Field(EXPECT),
    },
    exclusive=(("create", "request", "burst"),),
)
TECHNIQUE = Str(
    pattern=r"[A-H][1-9]\d?",
    describe="a technique number from ATTACKS.md such as 'A1' or 'D27'",
    example="A1",
)
OWASP = Str(
    pattern=r"API([1-9]|10):2023",
    describe="an OWASP API Security Top 10 (2023) category such as 'API1:2023'",
    example="API1:2023",
)
SCENARIO = Record(
    "the scenario",
    {
        "id": Field(
            Str(pattern=r"[a-z0-9][a-z0-9-]*", describe="a lowercase id with dashes"),
            True,
            "id: read-foreign-agent",
        ),
        "title": Field(Str(), True, "title: The attacker reads the victim's agent"),
        "technique": Field(
            OneOf(
                (TECHNIQUE, ListOf(TECHNIQUE, min_items=1)), describe=TECHNIQUE.describe
            ),
            True,
            "technique: A1",
        ),
        "owasp": Field(
            OneOf((OWASP, ListOf(OWASP, min_items=1)), describe=OWASP.describe)
        ),
        "resource": Field(Str()),
        "tags": Field(ListOf(Str())),
        "requires": Field(ListOf(Str(describe="a resource, endpoint or capability"))),
        "description": Field(Str()),
        "why": Field(Str()),
        "fix": Field(Str()),
        "matrix": Field(MapOf(ListOf(SCALAR, min_items=1), min_items=1)),
        "cases": Field(MapOf(MapOf(AnyValue()), min_items=1)),
        "let": Field(MapOf(AnyValue(), min_items=1)),
        "setup": Field(ListOf(STEP)),
        "attack": Field(ListOf(STEP, min_items=1), True, "attack: [...]"),
    },
)


@dataclass(frozen=True)
class Expect:
    status: tuple[int | str, ...] = ()
    no_2xx: bool = False
    no_canary: bool = False
    indistinguishable: bool = False
    audit: dict[str, Any] | None = None
    absent: tuple[str, ...] = ()
    fields: dict[str, Any] = field(default_factory=dict)
    close_to: dict[str, Any] = field(default_factory=dict)
    succeeded: dict[str, Any] | None = None
    lines: dict[str, int] = field(default_factory=dict)

    def line(self, check: str, default: int) -> int:
        return self.lines.get(check, default)


@dataclass(frozen=True)
class Step:
    section: str
    index: int
    name: str
    actor: str
    line: int
    request: dict[str, Any] | None
    create: str | None
    parent: Any
    auth: dict[str, Any] | None
    save: dict[str, str]
    expect: Expect
    lines: dict[str, int] = field(default_factory=dict)
    burst: tuple[dict[str, Any], ...] = ()

    @property
    def label(self) -> str:
        named = f' "{self.name}"' if self.name else ""
        return f"{self.section} step {self.index + 1}{named} (line {self.line})"


@dataclass(frozen=True)
class Variant:
    label: str
    values: dict[str, Any]


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    path: Path
    line: int
    techniques: tuple[str, ...]
    owasp: tuple[str, ...]
    resource: str
    tags: tuple[str, ...]
    description: str
    why: str
    fix: str
    setup: tuple[Step, ...]
    attack: tuple[Step, ...]
    variants: tuple[Variant, ...]
    requires: tuple[str, ...] = ()
    let: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)

    def resource_of(self, variant: Variant) -> str:
        """The resource tag with the variant's matrix and case values filled in."""
        values = {
            name: template.Template(value) for name, value in variant.values.items()
        }
        try:
            return str(template.expand(self.resource, template.Context(values)))
        except template.TemplateError:
            return self.resource


def load(path: Path) -> Scenario:
    """Load and check one scenario file; any mistake is a ScenarioError."""
    document = yamlfile.load(path)
    schema.check(SCENARIO, document)
    _check_techniques(document)
    _check_templates(document, document.data, ())
    scenario = _build(document)
    _check_variables(document, scenario)
    return scenario


def _check_techniques(document: Document) -> None:
    techniques = document.data["technique"]
    for index, technique in enumerate(_as_tuple(techniques)):
        group, number = technique[0], int(technique[1:])
        if number not in GROUPS[group]:
            at = (
                ("technique", index) if isinstance(techniques, list) else ("technique",)
            )
            first, last = GROUPS[group][0], GROUPS[group][-1]
            raise document.error(
                at,
                f"technique {technique!r} does not exist: group {group} of "
                f"ATTACKS.md numbers {first} to {last}",
                f"use the group letter and number as listed in ATTACKS.md "
                f"(e.g. {group}{first})",
            )


def _check_templates(document: Document, value: Any, at: tuple) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _check_templates(document, item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_templates(document, item, (*at, index))
    for bad in template.bad_templates(value if isinstance(value, str) else None):
        raise document.error(
            at,
            f"cannot read the template {{{{{bad}}}}}",
            "write {{name}}, {{name.key}}, {{name[0]}}, {{now - 60}} or "
            "{{name | filter}} with filters from: "
            + ", ".join(sorted(template.FILTERS)),
        )


def _as_tuple(value: Any) -> tuple:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list) else (value,)


def _build(document: Document) -> Scenario:
    data = document.data
    return Scenario(
        id=data["id"],
        title=data["title"].strip(),
        path=document.path,
        line=document.line(("id",)) or 1,
        techniques=_as_tuple(data["technique"]),
        owasp=_as_tuple(data.get("owasp")),
        resource=data.get("resource", ""),
        tags=_as_tuple(data.get("tags")),
        description=_prose(data.get("description")),
        why=_prose(data.get("why")),
        fix=_prose(data.get("fix")),
        setup=_steps(document, "setup"),
        attack=_steps(document, "attack"),
        variants=_variants(document),
        requires=_as_tuple(data.get("requires")),
        let=dict(data.get("let") or {}),
        lines={key: document.line((key,)) or 1 for key in data},
    )


def _prose(text: str | None) -> str:
    return " ".join((text or "").split())


def _steps(document: Document, section: str) -> tuple[Step, ...]:
    raw_steps = document.data.get(section) or []
    return tuple(
        _step(document, section, index, raw) for index, raw in enumerate(raw_steps)
    )


def _step(document: Document, section: str, index: int, raw: dict) -> Step:
    at = (section, index)
    actor = raw.get("as", "victim" if section == "setup" else "attacker")
    lines = {key: document.line((*at, key)) for key in raw}
    _check_auth(document, raw.get("auth"), (*at, "auth"))
    _check_request(document, raw.get("request"), (*at, "request"))
    for number, request in enumerate(raw.get("burst") or ()):
        _check_request(document, request, (*at, "burst", number))
    _check_burst(document, raw, at)
    if actor == "operator" and raw.get("auth"):
        raise document.error(
            (*at, "auth"),
            "an operator step authenticates as the profile's `operator:` says",
            "remove `auth:` from this step, or act as the victim or the attacker",
        )
    return Step(
        section=section,
        index=index,
        name=raw.get("name", ""),
        actor=actor,
        line=document.line(at) or 0,
        request=raw.get("request"),
        create=raw.get("create"),
        parent=raw.get("parent"),
        auth=raw.get("auth"),
        save=raw.get("save", {}),
        expect=_expect(document, raw.get("expect", {}), at, section, actor),
        lines=lines,
        burst=tuple(raw.get("burst") or ()),
    )


def _check_request(document: Document, request: dict | None, at: tuple) -> None:
    _check_bodies(document, request, at)
    named = request and "endpoint" in request and not _is_item_or_list(request)
    if request and "method" not in request and not named:
        raise document.error(
            at,
            "a request is missing the required key 'method'",
            "add `method:` (e.g. `method: GET`); only a named endpoint of the "
            "profile (`endpoint: admin_audit`) brings its own method",
        )


def _is_item_or_list(request: dict) -> bool:
    return str(request["endpoint"]).rpartition(".")[2] in ("item", "list")


def _check_burst(document: Document, raw: dict, at: tuple) -> None:
    if "burst" in raw and "save" in raw:
        raise document.error(
            (*at, "save"),
            "a burst step cannot save values: its answers are many",
            "save from a step before or after the burst",
        )
    per_answer = {"indistinguishable_from_missing", "audit", "fields", "close_to"}
    for key in per_answer & set(raw.get("expect", {})) if "burst" in raw else ():
        raise document.error(
            (*at, "expect", key),
            f"`{key}` checks one answer, and a burst has many",
            "check it in a step after the burst; a burst checks status, no_2xx, "
            "no_canary, absent and succeeded",
        )
    if "succeeded" in raw.get("expect", {}) and "burst" not in raw:
        raise document.error(
            (*at, "expect", "succeeded"),
            "`succeeded` counts the answers of a burst, and this step is no burst",
            "make the step a `burst:` of requests, or check `status` instead",
        )
    total = sum(request.get("repeat", 1) for request in raw.get("burst") or ())
    if total > MAX_BURST:
        raise document.error(
            (*at, "burst"),
            f"the burst sends {total} requests, more than {MAX_BURST}",
            f"send at most {MAX_BURST} requests in one burst",
        )


def _check_bodies(document: Document, request: dict | None, at: tuple) -> None:
    """At most one body; `{{name}}` bodies count at run time, when the
    variant decides which of them are left out."""
    given = [
        key
        for key in BODY_KEYS
        if request and key in request and not template.is_whole(request[key])
    ]
    if len(given) > 1:
        raise document.error(
            (*at, given[1]),
            f"a request has both {given[0]!r} and {given[1]!r}",
            "send one body: json (serialised for you), body (raw text) or form",
        )


_AUTH_KEYS = {
    "own": {"roles"},
    "none": set(),
    "raw": {"value"},
    "forged": {"alg", "key", "claims", "drop", "header", "signature", "roles"},
}


def _check_auth(document: Document, auth: dict | None, at: tuple) -> None:
    if auth is None:
        return
    kind = auth["token"]
    for key in set(auth) - {"token"} - _AUTH_KEYS[kind]:
        raise document.error(
            (*at, key),
            f"auth key {key!r} does not apply to `token: {kind}`",
            f"remove it, or use a token kind it applies to "
            f"({ {'value': 'raw', 'roles': 'own'}.get(key, 'forged') })",
        )
    if kind == "raw" and "value" not in auth:
        raise document.error(
            at,
            "`token: raw` needs the header value to send",
            "add `value:` (e.g. `value: 'Bearer'` or `value: ''`)",
        )


def _expect(
    document: Document, raw: dict, at: tuple, section: str, actor: str
) -> Expect:
    lines = {key: document.line((*at, "expect", key)) for key in raw}
    status = raw.get("status", "2xx" if section == "setup" else None)
    return Expect(
        status=_as_tuple(status),
        no_2xx=raw.get("no_2xx", False),
        no_canary=raw.get("no_canary", actor == "attacker"),
        indistinguishable=raw.get("indistinguishable_from_missing", False),
        audit=raw.get("audit"),
        absent=tuple(raw.get("absent", ())),
        fields=dict(raw.get("fields", {})),
        close_to=dict(raw.get("close_to", {})),
        succeeded=raw.get("succeeded"),
        lines=lines,
    )


def _variants(document: Document) -> tuple[Variant, ...]:
    matrix = document.data.get("matrix") or {}
    cases = document.data.get("cases") or {"": {}}
    names = list(matrix)
    _check_variant_names(document, names, cases)
    variants = []
    for combination in itertools.product(*(matrix[name] for name in names)):
        for label, case_values in cases.items():
            values = dict(zip(names, combination, strict=True)) | case_values
            parts = [_label(value) for value in combination] + [str(label)]
            variants.append(Variant("-".join(part for part in parts if part), values))
    _check_unique_labels(document, variants)
    return tuple(variants)


def _label(value: Any) -> str:
    return re.sub(r"[^\w.:-]+", "_", str(value)).strip("_") or "empty"


def _check_variant_names(document: Document, names: list, cases: dict) -> None:
    for label, values in cases.items():
        for name in list(values) + names:
            if name in BUILTINS or not re.fullmatch(r"[A-Za-z_]\w*", str(name)):
                where = ("cases", label, name) if name in values else ("matrix", name)
                raise document.error(
                    where,
                    f"variable name {name!r} is reserved or not an identifier",
                    "rename it: letters, digits and '_', not one of "
                    + ", ".join(sorted(BUILTINS)),
                )


def _check_unique_labels(document: Document, variants: list[Variant]) -> None:
    labels = [variant.label for variant in variants]
    for label in labels:
        if labels.count(label) > 1:
            raise document.error(
                ("matrix",) if "matrix" in document.data else ("cases",),
                f"two variants share the label {label!r}",
                "make matrix values and case labels distinct",
            )


def _check_variables(document: Document, scenario: Scenario) -> None:
    """Every template reads a variable defined by then: a built-in, a matrix or
    case value, or one saved by an earlier step."""
    variant_names = set().union(*(variant.values for variant in scenario.variants))
    saved_anywhere = {
        name for step in scenario.setup + scenario.attack for name in step.save
    }
    _check_let(document, scenario, variant_names)
    let_names = set(scenario.let)
    _check_variant_values(
        document, scenario, variant_names | saved_anywhere | let_names
    )
    known = set(BUILTINS) | variant_names | let_names
    for index, entry in enumerate(scenario.requires):
        unknown = template.names_in(entry) - (set(BUILTINS) | variant_names)
        if unknown:
            raise _unknown_variable(document, ("requires", index), unknown, known)
    for step in scenario.setup + scenario.attack:
        _check_step_names(document, step, known)
        known |= set(step.save)


def _check_let(document: Document, scenario: Scenario, variant_names: set) -> None:
    """`let` values are drawn once per item, before setup: they may read the
    tenants, the target, matrix and case values, and earlier `let` names."""
    known = set(BUILTINS) | variant_names
    for name, value in scenario.let.items():
        if name in known or not re.fullmatch(r"[A-Za-z_]\w*", str(name)):
            raise document.error(
                ("let", name),
                f"the `let` name {name!r} is taken or not an identifier",
                "rename it: letters, digits and '_', not a built-in or a matrix "
                "or case variable",
            )
        unknown = template.names_in(value) - known
        if unknown:
            raise _unknown_variable(document, ("let", name), unknown, known)
        known.add(name)


def _check_variant_values(document: Document, scenario: Scenario, names: set) -> None:
    allowed = names | BUILTINS
    for key in ("matrix", "cases"):
        for name, value in (document.data.get(key) or {}).items():
            unknown = template.names_in(value) - allowed
            if unknown:
                raise _unknown_variable(document, (key, name), unknown, allowed)


def _check_step_names(document: Document, step: Step, known: set) -> None:
    at = (step.section, step.index)
    expect = document.data[step.section][step.index].get("expect", {})
    parts = {
        "request": step.request,
        "burst": list(step.burst),
        "create": step.create,
        "parent": step.parent,
        "auth": step.auth,
        "expect": {
            key: expect.get(key)
            for key in ("audit", "absent", "fields", "close_to", "succeeded")
        },
    }
    for key, value in parts.items():
        unknown = template.names_in(value) - known
        if unknown:
            raise _unknown_variable(document, (*at, key), unknown, known)


def _unknown_variable(document: Document, at: tuple, unknown: set, known: set):
    name = sorted(unknown)[0]
    close = schema.suggest(name, sorted(known))
    return document.error(
        at,
        f"the template variable {name!r} is not defined at this point",
        f"{close}save it in an earlier step (`save: {{{name}: body.id}}`), or use "
        f"one of: {', '.join(sorted(known))}",
    )
