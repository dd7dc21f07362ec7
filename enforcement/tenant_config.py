"""Tenant configuration: the validated model and the OPA data document.

A configuration file lists tenants with their plan, limits and feature
flags. It reaches the policies as `data.tenants` (see policies/README.md),
the same document for the OPA server and the embedded engine.

    tenants:
      acme:
        plan: team
        limits: {max_agents: 10, max_executions_per_day: 500}
        features: {code_interpreter: true}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from enforcement.errors import UsageError

TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
FEATURE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
PLANS = ("free", "team", "enterprise")
LIMIT_NAMES = ("max_agents", "max_executions_per_day")
DEFAULT_LIMITS = {"max_agents": 10, "max_executions_per_day": 100}


def valid_tenant_id(value: Any) -> bool:
    return isinstance(value, str) and TENANT_ID.fullmatch(value) is not None


@dataclass(frozen=True)
class TenantConfig:
    id: str
    plan: str = "team"
    limits: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    features: Mapping[str, bool] = field(default_factory=dict)

    @classmethod
    def parse(cls, tenant_id: Any, raw: Any, where: str = "tenant") -> TenantConfig:
        """Validate one tenant's settings; a bad value raises UsageError naming it."""
        if not valid_tenant_id(tenant_id):
            raise UsageError(
                f"{where}: tenant ID {tenant_id!r} is invalid; use 1-63 characters of "
                "a-z, 0-9 and '-', starting with a letter or digit"
            )
        raw = {} if raw is None else raw
        if not isinstance(raw, Mapping):
            raise UsageError(f"{where}.{tenant_id}: expected a mapping, got {raw!r}")
        unknown = set(raw) - {"plan", "limits", "features"}
        if unknown:
            raise UsageError(
                f"{where}.{tenant_id}: unknown keys {sorted(unknown)}; allowed: plan, limits, features"
            )
        return cls(
            id=tenant_id,
            plan=_plan(raw.get("plan", "team"), f"{where}.{tenant_id}.plan"),
            limits=_limits(raw.get("limits", {}), f"{where}.{tenant_id}.limits"),
            features=_features(
                raw.get("features", {}), f"{where}.{tenant_id}.features"
            ),
        )

    def as_data(self) -> dict[str, Any]:
        """This tenant's entry in `data.tenants`."""
        return {
            "plan": self.plan,
            "limits": dict(self.limits),
            "features": dict(self.features),
        }


def _plan(value: Any, where: str) -> str:
    if value not in PLANS:
        raise UsageError(
            f"{where}: {value!r} is not a plan; use one of {', '.join(PLANS)}"
        )
    return value


def _limits(value: Any, where: str) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise UsageError(f"{where}: expected a mapping of limits, got {value!r}")
    limits = dict(DEFAULT_LIMITS)
    for name, limit in value.items():
        if name not in LIMIT_NAMES:
            raise UsageError(
                f"{where}: unknown limit {name!r}; known: {', '.join(LIMIT_NAMES)}"
            )
        if type(limit) is not int or limit < 0:
            raise UsageError(f"{where}.{name}: {limit!r} must be a whole number >= 0")
        limits[name] = limit
    return limits


def _features(value: Any, where: str) -> dict[str, bool]:
    if not isinstance(value, Mapping):
        raise UsageError(f"{where}: expected a mapping of feature flags, got {value!r}")
    for name, enabled in value.items():
        if not isinstance(name, str) or not FEATURE_NAME.fullmatch(name):
            raise UsageError(f"{where}: {name!r} is not a feature name (a-z, 0-9, _)")
        if not isinstance(enabled, bool):
            raise UsageError(f"{where}.{name}: {enabled!r} must be true or false")
    return dict(value)


def load(path: Path) -> list[TenantConfig]:
    """Read and validate a tenant configuration file."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(
            f"{path}: cannot read the tenant configuration: {exc}"
        ) from exc
    if not isinstance(document, Mapping) or not isinstance(
        document.get("tenants"), Mapping
    ):
        raise UsageError(
            f"{path}: expected a top-level 'tenants:' mapping of tenant ID to settings"
        )
    return [
        TenantConfig.parse(tid, raw, f"{path}: tenants")
        for tid, raw in document["tenants"].items()
    ]


def data_document(tenants: list[TenantConfig]) -> dict[str, Any]:
    """The OPA data document for these tenants."""
    return {"tenants": {tenant.id: tenant.as_data() for tenant in tenants}}
