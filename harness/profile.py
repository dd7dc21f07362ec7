"""Target profiles: how the harness reaches, provisions and reads a stack.

A profile is a YAML file (format in scenarios/README.md). The reference
stack's profile ships in harness/profiles/reference.yaml; `--tg-target NAME`
finds a shipped profile by name, anything else is read as a path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import schema, yamlfile
from harness.errors import ScenarioError
from harness.scenario import REQUEST, SAVE_EXPRESSION, STATUSES
from harness.schema import NUMBER, Field, ListOf, MapOf, OneOf, Record, Str

PROFILES_DIR = Path(__file__).parent / "profiles"

_REQUEST_EXPECT = {"request": Field(REQUEST, True), "expect": Field(STATUSES)}
_VARIABLE = OneOf(
    (
        Str(),
        Record(
            "an environment variable",
            {
                "env": Field(Str(), True, "env: TENANTGUARD_OPERATOR_KEY"),
                "default": Field(Str()),
            },
        ),
    ),
    describe="a string, or {env: NAME, default: VALUE}",
    example="{env: TENANTGUARD_OPERATOR_KEY}",
)
_EXPRESSION = Str(pattern=SAVE_EXPRESSION, describe="a response path such as body.id")
_ENDPOINT_NAME = Str(
    pattern=r"[a-z_][a-z0-9_]*",
    describe="an endpoint name: lowercase letters, digits and '_'",
    example="batch_read",
)
_RESOURCE = Record(
    "a resource",
    {
        "parent": Field(Str(describe="the name of the parent resource")),
        "create": Field(
            Record(
                "a create recipe",
                {**_REQUEST_EXPECT, "id": Field(_EXPRESSION, True, "id: body.id")},
            )
        ),
        "item": Field(Str(describe="a path template with {{id}}")),
        "list": Field(Str(describe="a path template")),
        "endpoints": Field(MapOf(REQUEST, key=_ENDPOINT_NAME)),
    },
)
PROFILE = Record(
    "the profile",
    {
        "name": Field(Str(), True, "name: reference"),
        "description": Field(Str()),
        "base_url": Field(Str(pattern=r"https?://.+", describe="an http(s) URL")),
        "variables": Field(MapOf(_VARIABLE)),
        "tenant": Field(
            Record(
                "tenant provisioning",
                {
                    **_REQUEST_EXPECT,
                    "id": Field(Str(), True, "id: 'tg-{{actor}}-{{unique}}'"),
                },
            ),
            True,
            "tenant: {id: ..., request: ...}",
        ),
        "token": Field(
            Record(
                "token minting",
                {
                    **_REQUEST_EXPECT,
                    "user": Field(Str()),
                    "roles": Field(ListOf(Str(), min_items=1)),
                    "token": Field(_EXPRESSION, True, "token: body.token"),
                },
            ),
            True,
            "token: {request: ..., token: body.token}",
        ),
        "auth": Field(
            Record(
                "request authentication",
                {
                    "header": Field(Str(), True, "header: Authorization"),
                    "value": Field(Str(), True, "value: 'Bearer {{token}}'"),
                },
            ),
            True,
            "auth: {header: Authorization, value: 'Bearer {{token}}'}",
        ),
        "jwt": Field(
            Record(
                "the target's token signing",
                {
                    "alg": Field(Str()),
                    "key": Field(Str(), True, "key: '{{signing_key}}'"),
                },
            )
        ),
        "audit": Field(
            Record(
                "the audit log",
                {
                    "request": Field(REQUEST, True),
                    "expect": Field(STATUSES),
                    "records": Field(_EXPRESSION, True, "records: body.records"),
                    "request_id_header": Field(
                        Str(), True, "request_id_header: X-Request-ID"
                    ),
                    "wait_seconds": Field(NUMBER),
                },
            )
        ),
        "operator": Field(
            Record(
                "operator requests",
                {
                    "headers": Field(
                        MapOf(Str()), True, "headers: {X-Operator-Key: ...}"
                    )
                },
            )
        ),
        "volatile_headers": Field(ListOf(Str())),
        "capabilities": Field(ListOf(_ENDPOINT_NAME)),
        "endpoints": Field(MapOf(REQUEST, key=_ENDPOINT_NAME)),
        "resources": Field(MapOf(_RESOURCE)),
    },
)


@dataclass(frozen=True)
class Profile:
    path: Path
    name: str
    data: dict[str, Any]
    variables: dict[str, str]
    document: yamlfile.Document = field(repr=False)

    @property
    def base_url(self) -> str | None:
        return self.data.get("base_url")

    @property
    def volatile_headers(self) -> frozenset[str]:
        names = self.data.get("volatile_headers", ["X-Request-ID", "Date"])
        return frozenset(name.lower() for name in names)

    def section(self, name: str) -> dict[str, Any] | None:
        return self.data.get(name)

    def resource(self, name: str) -> dict[str, Any] | None:
        return (self.data.get("resources") or {}).get(name)

    @property
    def resource_names(self) -> list[str]:
        return sorted(self.data.get("resources") or {})

    def endpoint(self, reference: str) -> tuple[tuple, Any] | None:
        """Where `reference` is defined and what it is: a path template for
        `RESOURCE.item` and `RESOURCE.list`, a request for a named endpoint
        (`admin_audit`, `agent.batch_read`); None when the profile lacks it."""
        name, _, kind = reference.rpartition(".")
        if not name:
            found = (self.data.get("endpoints") or {}).get(kind)
            return None if found is None else (("endpoints", kind), found)
        resource = self.resource(name) or {}
        if kind in ("item", "list"):
            return (
                None
                if kind not in resource
                else (("resources", name, kind), resource[kind])
            )
        found = (resource.get("endpoints") or {}).get(kind)
        at = ("resources", name, "endpoints", kind)
        return None if found is None else (at, found)

    def offers(self, requirement: str) -> bool:
        """Whether the target has what a scenario's `requires:` names: a
        resource, an endpoint or a declared capability."""
        return (
            requirement in (self.data.get("capabilities") or ())
            or self.resource(requirement) is not None
            or self.endpoint(requirement) is not None
        )

    def describe_offer(self) -> str:
        """What the profile offers, for a skip reason."""
        parts = [f"resources: {', '.join(self.resource_names) or 'none'}"]
        named = sorted(self.data.get("endpoints") or {})
        parts.append(f"endpoints: {', '.join(named) or 'none'}")
        capabilities = self.data.get("capabilities") or []
        parts.append(f"capabilities: {', '.join(capabilities) or 'none'}")
        return "; ".join(parts)

    def line(self, *at: Any) -> int | None:
        return self.document.line(tuple(at))

    def error(self, at: tuple, problem: str, fix: str) -> ScenarioError:
        return self.document.error(at, problem, fix)


def resolve(target: str | os.PathLike | None) -> Path:
    """The profile file for `--tg-target`: a shipped name or a path."""
    if target is None or str(target) == "":
        return PROFILES_DIR / "reference.yaml"
    shipped = PROFILES_DIR / f"{target}.yaml"
    if shipped.is_file():
        return shipped
    path = Path(target)
    if not path.is_file():
        names = sorted(path.stem for path in PROFILES_DIR.glob("*.yaml"))
        raise ScenarioError(
            path,
            None,
            "no such target profile",
            f"pass a profile file, or one of the shipped profiles: {', '.join(names)}",
        )
    return path


def load(path: Path, environ: dict[str, str] | None = None) -> Profile:
    """Load and check a profile; `{env: NAME}` variables are read from `environ`."""
    document = yamlfile.load(path)
    schema.check(PROFILE, document)
    environ = dict(os.environ) if environ is None else environ
    variables = {
        name: _variable(document, name, value, environ)
        for name, value in (document.data.get("variables") or {}).items()
    }
    _check_parents(document)
    return Profile(
        Path(path), document.data["name"], document.data, variables, document
    )


def _variable(document, name: str, value: Any, environ: dict[str, str]) -> str:
    if isinstance(value, str):
        return value
    if value["env"] in environ:
        return environ[value["env"]]
    if "default" in value:
        return value["default"]
    raise document.error(
        ("variables", name),
        f"the environment variable {value['env']} is not set",
        f"export {value['env']}=... (the target's value), or give the variable a "
        "`default:` in the profile",
    )


def _check_parents(document: yamlfile.Document) -> None:
    resources = document.data.get("resources") or {}
    for name, resource in resources.items():
        parent = resource.get("parent")
        if parent is not None and parent not in resources:
            raise document.error(
                ("resources", name, "parent"),
                f"resource {name!r} names the parent {parent!r}, which is not defined",
                f"use one of: {', '.join(resources)}",
            )
