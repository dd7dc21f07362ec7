"""Tenant configuration: the validated model and the OPA data document.

A configuration file lists tenants with their plan, limits, feature flags,
storage quota, key rotation interval and time zone. It reaches the policies
as `data.tenants` (see policies/README.md), the same document for the OPA
server and the embedded engine; the Rego reads plan, limits and features and
ignores the rest.

    tenants:
      acme:
        plan: team
        limits: {max_agents: 10, max_executions_per_day: 500}
        features: {code_interpreter: true}
        storage_quota_bytes: 104857600   # 100 MiB
        key_rotation_days: 90
        timezone: Europe/Berlin           # an IANA name; the daily limits' day

A change arrives as a partial document (`TenantConfig.updated`): top-level
settings replace, `limits` and `features` merge name by name; the result is
validated exactly as a file is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from enforcement.errors import UsageError

TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
FEATURE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
PLANS = ("free", "team", "enterprise")
LIMIT_NAMES = ("max_agents", "max_executions_per_day")
DEFAULT_LIMITS = {"max_agents": 10, "max_executions_per_day": 100}
MAX_COUNT = 2**53 - 1  # the largest count the policies compare exactly
MAX_FEATURES = 64
DEFAULT_STORAGE_QUOTA = 100 * 1024 * 1024
DEFAULT_KEY_ROTATION_DAYS = 90
MAX_KEY_ROTATION_DAYS = 3650
SETTINGS = (
    "plan",
    "limits",
    "features",
    "storage_quota_bytes",
    "key_rotation_days",
    "timezone",
)


def valid_tenant_id(value: Any) -> bool:
    return isinstance(value, str) and TENANT_ID.fullmatch(value) is not None


@dataclass(frozen=True)
class TenantConfig:
    id: str
    plan: str = "free"
    limits: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    features: Mapping[str, bool] = field(default_factory=dict)
    storage_quota_bytes: int = DEFAULT_STORAGE_QUOTA
    key_rotation_days: int = DEFAULT_KEY_ROTATION_DAYS
    timezone: str = "UTC"

    @classmethod
    def parse(cls, tenant_id: Any, raw: Any, where: str = "tenant") -> TenantConfig:
        """Validate one tenant's settings; a bad value raises UsageError naming it."""
        if not valid_tenant_id(tenant_id):
            raise UsageError(
                f"{where}: tenant ID {tenant_id!r} is invalid; use 1-63 characters of "
                "a-z, 0-9 and '-', starting with a letter or digit"
            )
        raw = {} if raw is None else raw
        here = f"{where}.{tenant_id}"
        if not isinstance(raw, Mapping):
            raise UsageError(f"{here}: expected a mapping, got {raw!r}")
        unknown = set(raw) - set(SETTINGS)
        if unknown:
            raise UsageError(
                f"{here}: unknown keys {sorted(map(str, unknown))}; "
                f"allowed: {', '.join(SETTINGS)}"
            )
        return cls(
            id=tenant_id,
            plan=_plan(raw.get("plan", "free"), f"{here}.plan"),
            limits=_limits(raw.get("limits", {}), f"{here}.limits"),
            features=_features(raw.get("features", {}), f"{here}.features"),
            storage_quota_bytes=_count(
                raw.get("storage_quota_bytes", DEFAULT_STORAGE_QUOTA),
                f"{here}.storage_quota_bytes",
            ),
            key_rotation_days=_rotation_days(
                raw.get("key_rotation_days", DEFAULT_KEY_ROTATION_DAYS),
                f"{here}.key_rotation_days",
            ),
            timezone=_timezone(raw.get("timezone", "UTC"), f"{here}.timezone"),
        )

    def updated(self, changes: Any, where: str = "tenant") -> TenantConfig:
        """This configuration with `changes` applied: settings replace, `limits`
        and `features` merge name by name; validated as a whole."""
        if not isinstance(changes, Mapping):
            raise UsageError(f"{where}: expected a mapping, got {changes!r}")
        raw = self.settings()
        for name, value in changes.items():
            if name in ("limits", "features") and isinstance(value, Mapping):
                raw[name] = {**raw[name], **value}
            else:
                raw[name] = value
        return TenantConfig.parse(self.id, raw, where)

    def settings(self) -> dict[str, Any]:
        """Every setting, as a file or an API body writes them."""
        return {
            "plan": self.plan,
            "limits": dict(self.limits),
            "features": dict(self.features),
            "storage_quota_bytes": self.storage_quota_bytes,
            "key_rotation_days": self.key_rotation_days,
            "timezone": self.timezone,
        }

    def changes_from(self, before: TenantConfig) -> dict[str, list[Any]]:
        """`{"features.x": [old, new], "plan": [old, new], ...}` for the audit log."""
        old, new = _flat(before.settings()), _flat(self.settings())
        return {
            name: [old.get(name), new.get(name)]
            for name in sorted(set(old) | set(new))
            if old.get(name) != new.get(name)
        }

    def as_data(self) -> dict[str, Any]:
        """This tenant's entry in `data.tenants`: every setting (the Rego reads
        plan, limits and features; the others are there for rules to come)."""
        return self.settings()

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _flat(settings: Mapping[str, Any]) -> dict[str, Any]:
    flat = {}
    for name, value in settings.items():
        if isinstance(value, Mapping):
            flat.update({f"{name}.{key}": item for key, item in value.items()})
        else:
            flat[name] = value
    return flat


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
        limits[name] = _count(limit, f"{where}.{name}")
    return limits


def _count(value: Any, where: str) -> int:
    if type(value) is not int or not 0 <= value <= MAX_COUNT:
        raise UsageError(
            f"{where}: {value!r} must be a whole number from 0 to {MAX_COUNT}"
        )
    return value


def _rotation_days(value: Any, where: str) -> int:
    if type(value) is not int or not 1 <= value <= MAX_KEY_ROTATION_DAYS:
        raise UsageError(
            f"{where}: {value!r} must be a whole number of days from 1 to "
            f"{MAX_KEY_ROTATION_DAYS}"
        )
    return value


def _timezone(value: Any, where: str) -> str:
    """An IANA time zone name that zoneinfo knows (never a path into it)."""
    problem = f"{where}: {value!r} is not a time zone; use an IANA name such as "
    if not isinstance(value, str) or not re.fullmatch(
        r"[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*", value
    ):
        raise UsageError(problem + "'UTC' or 'Europe/Berlin'")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UsageError(problem + "'UTC' or 'Europe/Berlin'") from None
    return value


def _features(value: Any, where: str) -> dict[str, bool]:
    if not isinstance(value, Mapping):
        raise UsageError(f"{where}: expected a mapping of feature flags, got {value!r}")
    if len(value) > MAX_FEATURES:
        raise UsageError(f"{where}: at most {MAX_FEATURES} feature flags")
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
