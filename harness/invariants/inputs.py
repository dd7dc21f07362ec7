"""Building blocks of generated decision inputs: tenants (own, foreign,
look-alike, malformed), subjects, field values, and the renaming of tenants.

Every value is placed at the input path the declaration names, so the same
generators attack rules that read differently-named fields.
"""

from __future__ import annotations

import copy
import functools
import random
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from hypothesis import strategies as st

from harness.invariants.declaration import Declaration
from harness.invariants.tenants import MISSING, World, is_tenant_id

FIELDS = {
    "access": ("action", "resource_type", "resource_tenant", "resource_id"),
    "storage": ("action", "path"),
    "limits": ("kind", "current"),
    "features": ("feature",),
    "keys": ("key_tenant", "key_id"),
}
ODD_ROLES = ("owner", "Admin", "", "*")
IDS = ("ag-7", "k-3", "x", "0")
SEGMENTS = ("report.txt", "a.tar.gz", "x..y", "_p", "files")

_OTHER_WAYS = st.sampled_from((
    lambda own, drawn: drawn,
    lambda own, drawn: drawn,
    lambda own, drawn: own + "0",
    lambda own, drawn: own + "-x",
    lambda own, drawn: own[:-1],
    lambda own, drawn: "x" + own,
    lambda own, drawn: f"{own}-{own}",
))  # fmt: skip
_MALFORMED_WAYS = st.sampled_from((
    lambda own, text: "", lambda own, text: ".", lambda own, text: "..",
    lambda own, text: f"../{own}", lambda own, text: f"{own}/..",
    lambda own, text: f"{own}/", lambda own, text: f"/{own}",
    lambda own, text: own.upper(), lambda own, text: f" {own}",
    lambda own, text: f"{own} ", lambda own, text: f"{own}\n",
    lambda own, text: f"{own}\u0000", lambda own, text: f"{own}_1",
    lambda own, text: f"{own}.io", lambda own, text: f"-{own}",
    lambda own, text: "%2e%2e", lambda own, text: "\uff41" + own[1:],
    lambda own, text: "\u0430" + own[1:], lambda own, text: (own + "-" * 64)[:64],
    lambda own, text: None, lambda own, text: 7, lambda own, text: True,
    lambda own, text: [own], lambda own, text: {"id": own}, lambda own, text: text,
))  # fmt: skip
_ODD_TEXT = st.text(max_size=8)
NOISE_PROFILES = 64
NOISE_VALUES = (None, 0, 1, True, "", "admin", "read", "agent", "x/y", [], {})
_FOREIGN_WAYS = st.sampled_from(("other", "other", "malformed", "missing"))

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=6), inner, max_size=3),
    ),
    max_leaves=6,
)


TENANT_CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789-"


def _names(characters: str, longest: int) -> st.SearchStrategy[str]:
    """Names of `characters` that start with a letter or digit (text() is one
    draw where from_regex is one per character)."""
    text = st.text(alphabet=characters, min_size=1, max_size=longest)
    return text.map(lambda name: name if name[0].isalnum() else "0" + name[1:])


def put(document: dict, path: str, value: Any) -> None:
    """Set the dotted `path` of `document` to `value`; MISSING removes it.
    A path below a value that is not an object is left alone."""
    *parents, last = path.split(".")
    node = document
    for key in parents:
        if value is MISSING and key not in node:
            return
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            return
    if value is MISSING:
        node.pop(last, None)
    else:
        node[last] = value


def get(document: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(document, dict) or key not in document:
            return MISSING
        document = document[key]
    return document


def parent(path: str) -> str:
    return path.rpartition(".")[0]


def shown(value: Any) -> str:
    return "missing" if value is MISSING else repr(value)


@dataclass(frozen=True, eq=False, repr=False)
class Inputs:
    """Generators bound to one declaration and one pool of tenants."""

    declaration: Declaration
    world: World

    def __repr__(self) -> str:
        return (
            f"Inputs({str(self.declaration.path)!r}, {len(self.world.names)} tenants)"
        )

    @property
    def families(self) -> tuple[str, ...]:
        return self.declaration.families

    def field(self, family: str, name: str) -> str:
        return self.declaration.field(family, name)

    def words(self, family: str, name: str) -> tuple[str, ...]:
        return self.declaration.words(family, name)

    def root(self, tenant: str) -> str:
        return self.declaration.field("storage", "root").replace("{tenant}", tenant)

    @property
    def root_prefix(self) -> str:
        """The storage root up to the tenant ID, e.g. "storage/tenants/"."""
        return self.declaration.field("storage", "root").partition("{tenant}")[0]

    def container(self, family: str) -> str:
        """The object that holds all of `family`'s fields, or "" if none does."""
        parents = {parent(self.field(family, name)) for name in FIELDS[family]}
        return parents.pop() if len(parents) == 1 else ""

    def subject_container(self) -> str:
        tenant, roles = (self.field("subject", name) for name in ("tenant", "roles"))
        return parent(tenant) if parent(tenant) == parent(roles) else ""

    # Tenants. Strategies are built once; what depends on the subject's own
    # tenant is drawn by the draw_* helpers from those strategies.

    @cached_property
    def tenants(self) -> st.SearchStrategy[str]:
        """A valid tenant ID: configured, configured nowhere, or built from a
        literal of the policies."""
        world = self.world
        fresh = _names(TENANT_CHARACTERS, 15)
        literal = st.builds(
            str.__add__,
            st.sampled_from(world.literals or ("acme",)),
            st.sampled_from(("", "-x", "0", "s")),
        )
        return st.one_of(
            st.sampled_from(world.names),
            fresh.filter(lambda name: name not in world.configs),
            literal.filter(is_tenant_id),
        ).filter(lambda name: name != world.unknown)

    def draw_other(self, draw, own: str) -> str:
        """A valid tenant ID that is not `own`, look-alikes of `own` included."""
        name = draw(_OTHER_WAYS)(own, draw(self.tenants))
        if is_tenant_id(name) and name != own:
            return name
        return own + "0" if is_tenant_id(own + "0") else own[:-1]

    def draw_malformed(self, draw, own: str) -> Any:
        """A value that is no tenant ID, often derived from `own`."""
        value = draw(_MALFORMED_WAYS)(own, draw(_ODD_TEXT))
        return "" if is_tenant_id(value) else value

    def draw_foreign(self, draw, own: str) -> Any:
        """What may stand where another tenant's ID goes: another tenant, a
        malformed value, or nothing."""
        way = draw(_FOREIGN_WAYS)
        if way == "other":
            return self.draw_other(draw, own)
        return self.draw_malformed(draw, own) if way == "malformed" else MISSING

    # Subjects and field values.

    @cached_property
    def roles(self) -> st.SearchStrategy[list[str]]:
        """Roles, shrinking towards the strongest declared role (declarations
        list roles weakest first), so a counterexample shows the worst case;
        no roles and unknown roles too."""
        words = (*reversed(self.declaration.roles), *ODD_ROLES)
        some = st.lists(st.sampled_from(words), min_size=1, max_size=3)
        return st.one_of(some, st.just([]))

    def subject(self, own: str, roles: list[str]) -> dict:
        document: dict = {}
        put(document, self.field("subject", "tenant"), own)
        put(document, self.field("subject", "roles"), roles)
        return document

    @functools.cache  # noqa: B019 - one Inputs per run, a handful of word lists
    def bad_words(self, valid: tuple[str, ...]) -> st.SearchStrategy[Any]:
        """Values that are not one of `valid`: near misses, other families'
        words, other types, nothing."""
        near = [w.upper() for w in valid] + [w.capitalize() for w in valid]
        near += [f"{w} " for w in valid] + [f"{w}s" for w in valid] + ["", "*"]
        near += self._vocabulary()
        return st.one_of(
            st.sampled_from([w for w in dict.fromkeys(near) if w not in valid]),
            st.just(MISSING),
            json_values,
        ).filter(lambda value: value not in valid)

    def _vocabulary(self) -> list[str]:
        words: list[str] = []
        for family in ("access", "storage"):
            if family in self.families:
                words += self.words(family, "actions")
        if "access" in self.families:
            words += self.words("access", "resource_types")
        return sorted(set(words))

    ids = st.one_of(st.sampled_from(IDS), st.text(min_size=1, max_size=8))
    segments = st.lists(
        st.one_of(st.sampled_from(SEGMENTS), _names(TENANT_CHARACTERS + "_", 9)),
        min_size=1,
        max_size=3,
    ).map("/".join)

    # Noise: other families' fields, which a rule must ignore.

    @functools.cache  # noqa: B019 - one Inputs per run, five families
    def noise_paths(self, family: str) -> list[str]:
        used = [self.field("subject", name) for name in ("tenant", "roles")]
        used += [self.field(family, name) for name in FIELDS[family]]
        paths = {
            self.field(other, name)
            for other in self.families
            if other != family
            for name in FIELDS[other]
        }
        return sorted(path for path in paths if not _conflicts(path, used))

    @functools.cache  # noqa: B019 - one Inputs per run, five families
    def _noise(self, family: str) -> st.SearchStrategy[dict]:
        """One of NOISE_PROFILES fixed sets of values for other families'
        fields (tenant IDs of the pool among them), the first one empty, so a
        counterexample shrinks to no noise. One draw, not one per field."""
        chooser = random.Random(f"{family} {len(self.world.names)}")
        values = [*self.world.names, *NOISE_VALUES]
        profiles = [{}]
        for _ in range(NOISE_PROFILES - 1):
            paths = self.noise_paths(family)
            chosen = (
                chooser.sample(paths, chooser.randint(1, len(paths))) if paths else []
            )
            profiles.append({path: chooser.choice(values) for path in chosen})
        return st.sampled_from(profiles)

    def add_noise(self, draw, document: dict, family: str) -> None:
        for path, value in draw(self._noise(family)).items():
            put(document, path, copy.deepcopy(value))

    # Renaming.

    def rename(self, document: dict) -> tuple[dict, dict[str, str]]:
        """`document` with every tenant ID renamed, and the renaming used."""
        found = self._tenant_ids(document)
        mapping: dict[str, str] = {}
        for tenant in found:
            mapping[tenant] = self.world.rename(
                tenant, set(found) | set(mapping.values())
            )
        renamed = copy.deepcopy(document)
        for path in self.declaration.tenant_fields():
            value = get(renamed, path)
            if isinstance(value, str) and value in mapping:
                put(renamed, path, mapping[value])
        if "storage" in self.families:
            self._rename_path(renamed, mapping)
        return renamed, mapping

    def _tenant_ids(self, document: dict) -> list[str]:
        values = [get(document, path) for path in self.declaration.tenant_fields()]
        values.append(self._path_tenant(document))
        return list(dict.fromkeys(value for value in values if is_tenant_id(value)))

    def _path_tenant(self, document: dict) -> Any:
        if "storage" not in self.families:
            return MISSING
        path, prefix = get(document, self.field("storage", "path")), self.root_prefix
        if not isinstance(path, str) or not path.startswith(prefix):
            return MISSING
        return path[len(prefix) :].split("/", 1)[0]

    def _rename_path(self, document: dict, mapping: dict[str, str]) -> None:
        tenant = self._path_tenant(document)
        if tenant in mapping:
            path = get(document, self.field("storage", "path"))
            rest = path[len(self.root(tenant)) - 1 :]
            put(
                document,
                self.field("storage", "path"),
                self.root(mapping[tenant])[:-1] + rest,
            )


def _conflicts(path: str, used: list[str]) -> bool:
    return any(
        path == other
        or path.startswith(other + ".")
        or other.startswith(path + ".")
        or (parent(path) and parent(path) == parent(other))
        for other in used
    )
