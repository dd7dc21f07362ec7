"""The tenants a check runs against, and the renaming of tenants.

One fixed pool of configured tenants is loaded into the engine for the whole
run (`data.tenants`). Its configurations cover every limit and flag boundary:
limits of 0, 1, 2, 3, 10, 500, 2^53 - 1, missing, negative, fractional, of
the wrong type; flags true, false, missing and of the wrong type. Besides the
usual names (and look-alikes such as "acme0" and "acm"), the pool holds every
string literal of the policies that could be a tenant ID, so a rule that
singles out a tenant by name meets that tenant.

Every pool tenant has a partner with the same configuration, and renaming
swaps partners. Renaming is therefore an involution that leaves the data
document as it is: deciding a renamed input against the same data is deciding
it in the renamed world.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.invariants.declaration import Declaration

TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
BASE_NAMES = (
    "acme", "globex", "initech", "acme0", "acm", "acme-evil", "a", "0", "a-b",
    "umbrella", "t" + "0123456789" * 6 + "12",
)  # fmt: skip
MISSING = object()
LIMIT_VALUES = (
    0, 1, 2, 3, 10, 500, 2**53 - 1, MISSING, -1, 2.5, "10", None, 2**53, 10.0, 1,
)  # fmt: skip
FEATURE_NAMES = ("code_interpreter", "web_browsing", "beta")
FEATURE_FLAGS = (
    {"code_interpreter": True, "web_browsing": False},
    {"code_interpreter": False, "web_browsing": True},
    {},
    {"code_interpreter": "true", "web_browsing": 1},
    {"code_interpreter": None, "beta": True},
    MISSING,
    ["code_interpreter"],
    {"code_interpreter": True, "web_browsing": True, "beta": True},
)
MAX_LITERALS = 24


def is_tenant_id(value: Any) -> bool:
    return isinstance(value, str) and bool(TENANT_ID.match(value))


@dataclass(frozen=True)
class World:
    """The configured tenants, their partners, and names configured nowhere."""

    configs: dict[str, Any]
    partner: dict[str, str]
    names: tuple[str, ...]
    literals: tuple[str, ...]
    unknown: str

    def data(self) -> dict[str, Any]:
        return dict(self.configs)

    def is_configured(self, tenant: Any) -> bool:
        return isinstance(tenant, str) and isinstance(self.configs.get(tenant), dict)

    def config(self, tenant: str, key: str) -> Any:
        config = self.configs.get(tenant)
        return config.get(key, MISSING) if isinstance(config, dict) else MISSING

    def rename(self, tenant: str, taken: set[str]) -> str:
        """`tenant`'s new name: its partner, or a fresh name configured nowhere."""
        if tenant in self.partner:
            return self.partner[tenant]
        return _fresh(tenant, taken | set(self.configs))

    def slice(self, *documents: Any) -> dict[str, Any]:
        """The configurations of every pool tenant named anywhere in `documents`."""
        named = set()
        for document in documents:
            named |= _strings(document)
        return {name: self.configs[name] for name in self.names if name in named}


def build(declaration: Declaration, policy_dir: Path) -> World:
    literals = rego_literals(policy_dir, _vocabulary(declaration))
    originals = _unique((*BASE_NAMES, *literals))
    partner = _partners(originals)
    configs: dict[str, Any] = {}
    for index, name in enumerate(originals):
        configs[name] = configs[partner[name]] = _config(declaration, index)
    unknown = (
        "no-such-tenant"
        if "no-such-tenant" not in configs
        else _fresh("no-such-tenant", set(configs))
    )
    names = (*originals, *(partner[name] for name in originals))
    return World(configs, partner, names, tuple(literals), unknown)


def rego_literals(policy_dir: Path, exclude: set[str]) -> list[str]:
    """String literals of the policies (tests and comments aside) that are
    tenant IDs and not words the declaration already names."""
    found: list[str] = []
    for path in sorted(Path(policy_dir).rglob("*.rego")):
        if path.name.endswith("_test.rego"):
            continue
        code = "\n".join(
            line for line in path.read_text(encoding="utf-8").splitlines()
            if not line.lstrip().startswith("#")
        )  # fmt: skip
        found += re.findall(r'"([a-z0-9][a-z0-9-]{0,62})"', code)
    return [name for name in _unique(found) if name not in exclude][:MAX_LITERALS]


def _vocabulary(declaration: Declaration) -> set[str]:
    words = set(declaration.roles)
    for family, values in declaration.sections.items():
        for value in values.values():
            if isinstance(value, list):
                words |= set(value)
            elif isinstance(value, dict):
                words |= set(value) | set(value.values())
        if family == "storage":
            words |= set(re.split(r"[/{}]", values["root"]))
    return words


def _config(declaration: Declaration, index: int) -> dict[str, Any]:
    config: dict[str, Any] = {"plan": ("free", "team", "enterprise")[index % 3]}
    if "limits" in declaration.sections:
        keys = sorted(declaration.sections["limits"]["kinds"].values())
        limits = {
            key: LIMIT_VALUES[(index + 5 * offset) % len(LIMIT_VALUES)]
            for offset, key in enumerate(keys)
        }
        config[declaration.field("limits", "config")] = _present(limits)
    if "features" in declaration.sections:
        flags = FEATURE_FLAGS[index % len(FEATURE_FLAGS)]
        if flags is not MISSING:
            config[declaration.field("features", "config")] = flags
    return config if index % 7 != 6 else {}


def _present(mapping: dict) -> dict:
    return {key: value for key, value in mapping.items() if value is not MISSING}


def _partners(originals: tuple[str, ...]) -> dict[str, str]:
    taken = set(originals)
    partner: dict[str, str] = {}
    for name in originals:
        new = _fresh(name, taken)
        taken.add(new)
        partner[name], partner[new] = new, name
    return partner


def _fresh(name: str, taken: set[str]) -> str:
    """A valid tenant ID derived from `name` that is not in `taken`."""
    for prefix in ("r", "s", "q", "z", "x"):
        candidate = (prefix + name)[:63]
        if candidate not in taken:
            return candidate
    number = 0
    while f"t{number}" in taken:
        number += 1
    return f"t{number}"


def _unique(names) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def _strings(document: Any) -> set[str]:
    if isinstance(document, str):
        return {document} | set(document.split("/"))
    if isinstance(document, dict):
        return set().union(*(_strings(v) for v in document.values()), set())
    if isinstance(document, list):
        return set().union(*(_strings(v) for v in document), set())
    return set()
