"""The isolation invariants: for each, a promise in one sentence and the
hypothesis strategy of cases (input plus expectations) that attack it.

Every decision of every case must also have the documented shape
(contract.shape_problem); `decision_shape` adds arbitrary inputs to that.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import strategies as st

from harness.invariants import paths
from harness.invariants.contract import MAX_COUNT, Case, Code, Denied, SameAs, is_count
from harness.invariants.inputs import FIELDS, Inputs, get, json_values, put, shown
from harness.invariants.tenants import FEATURE_NAMES, MISSING

UNKNOWN_TWIN = (
    "another tenant's object must be indistinguishable from one that does not exist"
)


@dataclass(frozen=True)
class Invariant:
    name: str
    families: tuple[str, ...]  # the declared rules it needs (any one of them if "*")
    promise: str
    strategy: Callable[[Inputs], st.SearchStrategy[Case]]

    def applies(self, declared: tuple[str, ...]) -> bool:
        if self.families == ("*",):
            return bool(declared)
        return all(family in declared for family in self.families)


@functools.cache
def choice(values: tuple) -> st.SearchStrategy:
    """sampled_from, built once per tuple of values."""
    return st.sampled_from(values)


# Cross-tenant objects and keys.


@st.composite
def cross_tenant_access(draw, inputs: Inputs) -> Case:
    own = draw(inputs.tenants)
    other = inputs.draw_foreign(draw, own)
    document = inputs.subject(own, draw(inputs.roles))
    _access_fields(draw, inputs, document, other)
    inputs.add_noise(draw, document, "access")

    why = f"resource tenant {shown(other)} is not the subject's tenant {own!r}"
    return _foreign_case("access", inputs, document, "resource_tenant", why)


@st.composite
def foreign_key(draw, inputs: Inputs) -> Case:
    own = draw(inputs.tenants)
    other = inputs.draw_foreign(draw, own)
    document = inputs.subject(own, draw(inputs.roles))
    put(document, inputs.field("keys", "key_tenant"), other)
    put(document, inputs.field("keys", "key_id"), draw(inputs.ids))
    inputs.add_noise(draw, document, "keys")

    why = f"key tenant {shown(other)} is not the subject's tenant {own!r}"
    return _foreign_case("keys", inputs, document, "key_tenant", why)


def _foreign_case(family: str, inputs: Inputs, document: dict, field: str, why: str):
    twin = copy.deepcopy(document)
    put(twin, inputs.field(family, field), inputs.world.unknown)
    expect = (
        Code("not_found", why),
        SameAs(twin, f"unknown-tenant ({inputs.world.unknown!r})", UNKNOWN_TWIN),
    )
    return Case(family, document, expect)


def _access_fields(draw, inputs: Inputs, document: dict, resource_tenant) -> None:
    put(
        document,
        inputs.field("access", "action"),
        draw(choice(inputs.words("access", "actions"))),
    )
    put(
        document,
        inputs.field("access", "resource_type"),
        draw(choice(inputs.words("access", "resource_types"))),
    )
    put(document, inputs.field("access", "resource_tenant"), resource_tenant)
    put(document, inputs.field("access", "resource_id"), draw(inputs.ids))


# Storage paths.


@st.composite
def storage_outside_root(draw, inputs: Inputs) -> Case:
    own = draw(inputs.tenants)
    other = inputs.draw_other(draw, own)
    path, form = _storage_path(draw, inputs, own, other)
    document = inputs.subject(own, draw(inputs.roles))
    put(
        document,
        inputs.field("storage", "action"),
        draw(choice(inputs.words("storage", "actions"))),
    )
    put(document, inputs.field("storage", "path"), path)
    inputs.add_noise(draw, document, "storage")
    return Case("storage", document, _path_expectations(inputs, document, own, form))


def _path_expectations(inputs: Inputs, document: dict, own: str, form: str) -> tuple:
    path = get(document, inputs.field("storage", "path"))
    expect = []
    reading = paths.escape(path, inputs.root(own))
    if reading is not None:
        why = f"read as {reading!r} the path is not below the subject's root {inputs.root(own)!r}"
        expect.append(Denied(why))
    malformed = paths.malformed(path)
    if malformed:
        expect.append(Code("storage_path_invalid", f"the path holds {malformed}"))
    if form.startswith("other-root:"):
        expect.append(
            Code("not_found", "the path is well formed and under another tenant's root")
        )
        expect.append(_unknown_root_twin(inputs, document, form.partition(":")[2]))
    return tuple(expect)


def _unknown_root_twin(inputs: Inputs, document: dict, other: str) -> SameAs:
    twin = copy.deepcopy(document)
    field = inputs.field("storage", "path")
    path = get(twin, field)
    put(
        twin, field, inputs.root(inputs.world.unknown) + path[len(inputs.root(other)) :]
    )
    return SameAs(twin, f"unknown-tenant ({inputs.world.unknown!r})", UNKNOWN_TWIN)


STORAGE_FORMS = (
    "other-root",
    "own-root",
    "vector",
    "inserted",
    "rewritten",
    "tenant-slot",
    "random",
)
PATH_ALPHABET = "abcAB01./\\%-_ \u0000\u2215\uff0e\u2024e2fc0"
_RANDOM_PATHS = st.text(alphabet=PATH_ALPHABET, max_size=24)
_INSERT_AT = st.integers(min_value=0, max_value=3)


def _storage_path(draw, inputs: Inputs, own: str, other: str) -> tuple[str, str]:
    """(path, form): a storage path of group E aimed at `own`'s root or away from it."""
    segments, form = draw(inputs.segments), draw(choice(STORAGE_FORMS))
    if form == "other-root":
        return inputs.root(other) + segments, f"other-root:{other}"
    if form == "own-root":
        return inputs.root(own) + segments, form
    if form == "vector":
        _, template = draw(choice(paths.vector_templates(inputs.root_prefix)))
        return template.replace("{own}", own).replace("{other}", other), form
    if form == "inserted":
        return _inserted(draw, inputs.root(own), segments, other), form
    if form == "rewritten":
        rewrite, tenant = draw(choice(paths.REWRITES)), draw(choice((own, other)))
        return rewrite(inputs.root(tenant) + segments), form
    if form == "tenant-slot":
        slot = inputs.draw_malformed(draw, own)
        return (
            f"{inputs.root_prefix}{slot if isinstance(slot, str) else ''}/{segments}",
            form,
        )
    return draw(choice(("", inputs.root(own)))) + draw(_RANDOM_PATHS), form


def _inserted(draw, root: str, segments: str, other: str) -> str:
    parts = segments.split("/")
    where = min(draw(_INSERT_AT), len(parts))
    attack = draw(choice(paths.ATTACK_SEGMENTS)).replace("{other}", other)
    return root + "/".join([*parts[:where], attack, *parts[where:]])


# Malformed subjects and requests.


@st.composite
def malformed_subject(draw, inputs: Inputs) -> Case:
    family = draw(choice(inputs.families))
    own = draw(inputs.tenants)
    document = _own_request(draw, inputs, family, own, list(inputs.declaration.roles))
    path, corrupt = draw(choice(_subject_corruptions(inputs)))
    value = corrupt(draw, own)
    put(document, path, value)

    why = f"{path} is {shown(value)}: a missing, empty or malformed subject is denied first"
    return Case(family, document, (Code("subject_invalid", why),))


_NON_STRINGS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.lists(st.text(max_size=3), max_size=2)
)
_BAD_ROLES = st.one_of(
    st.sampled_from([MISSING, None, "admin", {"admin": True}, 1]),
    st.lists(
        st.one_of(st.text(max_size=6), _NON_STRINGS), min_size=1, max_size=3
    ).filter(lambda roles: any(not isinstance(role, str) for role in roles)),
)
_SUBJECT_CONTAINERS = st.sampled_from([MISSING, None, "own", 1, True, [], ["own"], {}])
_MALFORMED_OR_MISSING = st.sampled_from(("malformed", "malformed", "missing"))


def _drawn(strategy: st.SearchStrategy):
    return lambda draw, own: draw(strategy)


def _malformed_or_missing(draw, inputs: Inputs, own: str):
    if draw(_MALFORMED_OR_MISSING) == "missing":
        return MISSING
    return inputs.draw_malformed(draw, own)


def _own_named(value, own: str):
    if value == "own":
        return own
    return [own] if value == ["own"] else value


@functools.cache
def _subject_corruptions(inputs: Inputs) -> tuple:
    """(input path, how to draw a bad value for it) for the subject."""
    options = [
        (
            inputs.field("subject", "tenant"),
            lambda draw, own: _malformed_or_missing(draw, inputs, own),
        ),
        (inputs.field("subject", "roles"), _drawn(_BAD_ROLES)),
    ]
    container = inputs.subject_container()
    if container:
        options.append(
            (container, lambda draw, own: _own_named(draw(_SUBJECT_CONTAINERS), own))
        )
    return tuple(options)


@st.composite
def malformed_request(draw, inputs: Inputs) -> Case:
    family = draw(choice(inputs.families))
    own = draw(inputs.tenants)
    document = _own_request(draw, inputs, family, own, list(inputs.declaration.roles))
    path, corrupt, code = draw(choice(_request_corruptions(inputs, family)))
    value = corrupt(draw, own)
    put(document, path, value)

    why = f"{path} is {shown(value)}: a missing or malformed field is denied"
    return Case(family, document, (Code(code, why),))


BAD_CONTAINERS = st.sampled_from([MISSING, None, "x", 1, True, [], ["agent"], {}])
BAD_COUNTS = st.one_of(
    st.sampled_from((MISSING, -1, -(2**53), 0.5, -0.5, 2**53, 2**64, 1e20, "1", "0",
                     True, False, None, [], {})),
    st.integers(max_value=-1),
    st.integers(min_value=MAX_COUNT + 1),
    st.floats(min_value=-1e6, max_value=1e6).filter(lambda n: not float(n).is_integer()),
)  # fmt: skip
BAD_STRINGS = st.sampled_from([MISSING, "", None, 1, True, [], {}, ["x"]])
NON_STRINGS = st.one_of(
    json_values.filter(lambda value: not isinstance(value, str)), st.just(MISSING)
)

# family -> (field, what bad values are drawn for it, the documented code)
REQUEST_CORRUPTIONS = {
    "access": (
        ("action", "actions", "request_invalid"),
        ("resource_type", "resource_types", "request_invalid"),
        ("resource_tenant", "tenant", "not_found"),
    ),
    "storage": (
        ("action", "actions", "request_invalid"),
        ("path", "non-string", "request_invalid"),
    ),
    "limits": (
        ("kind", "kinds", "request_invalid"),
        ("current", "count", "request_invalid"),
    ),
    "features": (("feature", "string", "request_invalid"),),
    "keys": (
        ("key_id", "string", "request_invalid"),
        ("key_tenant", "tenant", "not_found"),
    ),
}


@functools.cache
def _request_corruptions(inputs: Inputs, family: str) -> tuple:
    """(input path, how to draw a bad value, the documented code) for each
    field of `family`, and for the object holding them."""
    options = [
        (inputs.field(family, name), _bad_values(inputs, family, kind), code)
        for name, kind, code in REQUEST_CORRUPTIONS[family]
    ]
    container = inputs.container(family)
    if container:
        options.append((container, _drawn(BAD_CONTAINERS), "request_invalid"))
    return tuple(options)


def _bad_values(inputs: Inputs, family: str, kind: str):
    if kind == "tenant":
        return lambda draw, own: _malformed_or_missing(draw, inputs, own)
    if kind == "kinds":
        return _drawn(inputs.bad_words(_kinds(inputs)))
    if kind in ("actions", "resource_types"):
        return _drawn(inputs.bad_words(inputs.words(family, kind)))
    return _drawn(
        {"count": BAD_COUNTS, "string": BAD_STRINGS, "non-string": NON_STRINGS}[kind]
    )


_SMALL_USAGE = st.integers(min_value=0, max_value=1000)


def _own_request(draw, inputs: Inputs, family: str, own: str, roles: list) -> dict:
    """A well-formed request of `family` inside `own`'s tenant."""
    document = inputs.subject(own, roles)
    field = lambda name: inputs.field(family, name)  # noqa: E731
    if family == "access":
        _access_fields(draw, inputs, document, own)
    elif family == "storage":
        put(document, field("action"), draw(choice(inputs.words("storage", "actions"))))
        put(document, field("path"), inputs.root(own) + draw(inputs.segments))
    elif family == "limits":
        put(document, field("kind"), draw(choice(_kinds(inputs))))
        put(document, field("current"), draw(_SMALL_USAGE))
    elif family == "features":
        put(document, field("feature"), draw(choice(FEATURE_NAMES)))
    else:
        put(document, field("key_tenant"), own)
        put(document, field("key_id"), draw(inputs.ids))
    return document


def _kinds(inputs: Inputs) -> tuple[str, ...]:
    return tuple(sorted(inputs.declaration.sections["limits"]["kinds"]))


# Limits and feature flags.


@st.composite
def limit_boundary(draw, inputs: Inputs) -> Case:
    own = draw(inputs.tenants)
    kind = draw(choice(_kinds(inputs)))
    limit = _limit(inputs, own, kind)
    current = draw(_usages(limit))
    document = inputs.subject(own, draw(inputs.roles))
    put(document, inputs.field("limits", "kind"), kind)
    put(document, inputs.field("limits", "current"), current)
    inputs.add_noise(draw, document, "limits")
    return Case("limits", document, (_limit_expectation(own, kind, limit, current),))


def _limit(inputs: Inputs, tenant: str, kind: str):
    limits = inputs.world.config(tenant, inputs.field("limits", "config"))
    key = inputs.declaration.sections["limits"]["kinds"][kind]
    return limits.get(key, MISSING) if isinstance(limits, dict) else MISSING


_ANY_USAGE = st.integers(min_value=0, max_value=MAX_COUNT)
_DELTAS = st.integers(min_value=-3, max_value=3)
_AS_FLOAT = st.booleans()


@functools.cache
def _usages(limit) -> st.SearchStrategy:
    """Usage around `limit` (at, just under, just over) or anywhere, some of
    it written as a whole float (10.0)."""
    if not is_count(limit):
        return _ANY_USAGE
    near = _DELTAS.map(lambda delta: int(limit) + delta)
    usages = st.one_of(near, near, _ANY_USAGE).filter(is_count)
    return st.tuples(usages, _AS_FLOAT).map(
        lambda pair: float(pair[0]) if pair[1] and pair[0] < 2**52 else pair[0]
    )


def _limit_expectation(own: str, kind: str, limit, current) -> Code:
    if not is_count(limit):
        return Code(
            "tenant_unconfigured",
            f"tenant {own!r} has no valid {kind} limit ({shown(limit)})",
        )
    if current >= limit:
        return Code(
            "limit_exceeded",
            f"usage {current} is at or over the {kind} limit {limit} of tenant {own!r}",
        )
    return Code(
        "allowed",
        f"usage {current} is under the {kind} limit {limit} of tenant {own!r}",
    )


_FEATURES = st.one_of(st.sampled_from(FEATURE_NAMES), st.text(min_size=1, max_size=8))


@st.composite
def feature_flags(draw, inputs: Inputs) -> Case:
    own = draw(inputs.tenants)
    feature = draw(_FEATURES)
    document = inputs.subject(own, draw(inputs.roles))
    put(document, inputs.field("features", "feature"), feature)
    inputs.add_noise(draw, document, "features")
    return Case("features", document, (_flag_expectation(inputs, own, feature),))


def _flag_expectation(inputs: Inputs, own: str, feature: str) -> Code:
    if not inputs.world.is_configured(own):
        return Code("tenant_unconfigured", f"tenant {own!r} has no configuration")
    flags = inputs.world.config(own, inputs.field("features", "config"))
    flag = flags.get(feature, MISSING) if isinstance(flags, dict) else MISSING
    if flag is True:
        return Code(
            "allowed", f"the subject's own tenant {own!r} has flag {feature!r} true"
        )
    return Code(
        "feature_disabled",
        f"the subject's own tenant {own!r} has flag {feature!r} {shown(flag)}, not true",
    )


# Shape and renaming.

_RAW_KEYS = st.sampled_from(
    ["subject", "action", "resource", "path", "usage", "feature", "key"]
)
_RAW_INPUTS = st.dictionaries(_RAW_KEYS, json_values)
_SHAPES = st.sampled_from(("well-formed", "raw", "fields"))


@st.composite
def any_input(draw, inputs: Inputs) -> Case:
    family = draw(choice(inputs.families))
    shape = draw(_SHAPES)
    if shape == "well-formed":
        document = _own_request(
            draw, inputs, family, draw(inputs.tenants), draw(inputs.roles)
        )
    elif shape == "raw":
        document = draw(_RAW_INPUTS)
    else:
        document = _filled(draw, inputs, family)
    return Case(family, document)


_MAYBE_JSON = st.one_of(st.just(MISSING), json_values)


def _filled(draw, inputs: Inputs, family: str) -> dict:
    document: dict = {}
    for name in FIELDS[family]:
        put(document, inputs.field(family, name), draw(_MAYBE_JSON))
    return document


@st.composite
def renamed(draw, inputs: Inputs) -> Case:
    base = draw(_renamable(inputs))
    other, mapping = inputs.rename(base.input)
    names = ", ".join(f"{old} -> {new}" for old, new in mapping.items()) or "none"
    why = (
        f"renaming tenants consistently ({names}) in the input and in data."
        f"{inputs.declaration.tenants_data} must not change it: no rule may "
        "single out a tenant by name"
    )
    return Case(base.family, base.input, (SameAs(other, "renamed", why),))


@functools.cache
def _renamable(inputs: Inputs) -> st.SearchStrategy[Case]:
    by_family = {
        "access": cross_tenant_access, "keys": foreign_key, "storage": storage_outside_root,
        "limits": limit_boundary, "features": feature_flags,
    }  # fmt: skip
    found = [by_family[family](inputs) for family in inputs.families]
    return st.one_of([*found, _own_request_case(inputs)])


@st.composite
def _own_request_case(draw, inputs: Inputs) -> Case:
    family = draw(choice(inputs.families))
    own = draw(inputs.tenants)
    return Case(family, _own_request(draw, inputs, family, own, draw(inputs.roles)))


INVARIANTS = (
    Invariant("cross_tenant_access", ("access",),
              "a subject never gets another tenant's object, and the denial is the documented not_found",
              cross_tenant_access),
    Invariant("foreign_key_unusable", ("keys",),
              "a key of another tenant is never usable, and the denial is the documented not_found",
              foreign_key),
    Invariant("storage_outside_root", ("storage",),
              "a storage path outside the subject's tenant root is denied, whatever its encoding",
              storage_outside_root),
    Invariant("malformed_subject_denied", ("*",),
              "a missing, empty or malformed subject or subject tenant is denied as subject_invalid",
              malformed_subject),
    Invariant("malformed_request_denied", ("*",),
              "a missing or malformed resource, resource tenant or request field is denied",
              malformed_request),
    Invariant("limit_boundary", ("limits",),
              "usage at or over a limit is denied with limit_exceeded, and usage under it is allowed",
              limit_boundary),
    Invariant("feature_flag_own_tenant", ("features",),
              "a feature is enabled only by the subject's own tenant's flag being true",
              feature_flags),
    Invariant("decision_shape", ("*",),
              "every decision has the documented shape, whatever the input",
              any_input),
    Invariant("rename_invariance", ("*",),
              "renaming tenants consistently never changes a decision",
              renamed),
)  # fmt: skip
NAMES = tuple(invariant.name for invariant in INVARIANTS)
