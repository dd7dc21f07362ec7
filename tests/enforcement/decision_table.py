"""A decision table for all five entry points: allowed, denied and malformed
inputs, generated from small lists of values so it grows by adding data."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

VECTORS = Path(__file__).resolve().parents[2] / "harness" / "vectors"

ACCESS = "tenantguard/access/decision"
STORAGE = "tenantguard/storage/decision"
LIMITS = "tenantguard/limits/decision"
FEATURES = "tenantguard/features/decision"
KEYS = "tenantguard/keys/decision"

ROLES = [["viewer"], ["member"], ["admin"], [], ["owner"], ["viewer", "admin"]]
ACTIONS = ["read", "list", "create", "update", "delete", "execute"]
TYPES = ["agent", "execution", "credential", "file", "config", "audit"]

MALFORMED_SUBJECTS = [
    None,
    "acme",
    {},
    {"tenant": "", "roles": ["admin"]},
    {"tenant": "../globex", "roles": ["admin"]},
    {"tenant": ".", "roles": ["admin"]},
    {"tenant": "ACME", "roles": ["admin"]},
    {"tenant": 7, "roles": ["admin"]},
    {"tenant": ["acme"], "roles": ["admin"]},
    {"tenant": "acme", "roles": "admin"},
    {"tenant": "acme", "roles": [1]},
    {"tenant": "acme"},
    {"tenant": "acme\u0000", "roles": ["admin"]},
]


def subject(tenant: str, roles: list[str]) -> dict:
    return {"tenant": tenant, "user": "u-1", "roles": roles}


def access_rows():
    for roles, action, kind, owner in itertools.product(
        ROLES, ACTIONS, TYPES, ["acme", "globex"]
    ):
        resource = {"type": kind, "tenant": owner, "id": "obj-1"}
        yield (
            ACCESS,
            {"subject": subject("acme", roles), "action": action, "resource": resource},
        )
    for bad in MALFORMED_SUBJECTS:
        resource = {"type": "agent", "tenant": "acme", "id": "ag-1"}
        yield ACCESS, {"subject": bad, "action": "read", "resource": resource}
    good = subject("acme", ["admin"])
    for resource in [
        None,
        {},
        {"type": "agent"},
        {"type": "agent", "tenant": ""},
        {"type": "robot", "tenant": "acme"},
        {"type": "agent", "tenant": "../acme"},
    ]:
        yield ACCESS, {"subject": good, "action": "read", "resource": resource}
    for action in [None, "READ", "", "admin", 3]:
        yield (
            ACCESS,
            {
                "subject": good,
                "action": action,
                "resource": {"type": "agent", "tenant": "acme", "id": "x"},
            },
        )
    yield ACCESS, {}


def storage_rows():
    vectors = json.loads((VECTORS / "storage_paths.json").read_text())
    for vector, roles, action in itertools.product(
        vectors, [["viewer"], ["member"], ["admin"]], ["read", "write", "delete"]
    ):
        path = vector["path"].format(own="acme", other="globex")
        yield (
            STORAGE,
            {"subject": subject("acme", roles), "action": action, "path": path},
        )
    for bad_path in [None, 7, ["storage", "tenants", "acme", "x"]]:
        yield (
            STORAGE,
            {
                "subject": subject("acme", ["admin"]),
                "action": "write",
                "path": bad_path,
            },
        )


def limits_rows():
    for tenant, kind, current in itertools.product(
        ["acme", "initech", "umbrella"],
        ["agents", "executions_per_day", "storage_bytes"],
        [0, 1, 9, 10, 11, 499, 500, 501, -1, 2.5, "3", None],
    ):
        usage = {"kind": kind, "current": current}
        yield LIMITS, {"subject": subject(tenant, ["member"]), "usage": usage}
    yield LIMITS, {"subject": subject("acme", ["member"])}
    yield LIMITS, {"subject": subject("acme", ["member"]), "usage": "lots"}


def features_rows():
    for tenant, feature in itertools.product(
        ["acme", "globex", "initech", "umbrella"],
        ["code_interpreter", "web_browsing", "time_travel", "", None, 1],
    ):
        yield FEATURES, {"subject": subject(tenant, ["viewer"]), "feature": feature}


def keys_rows():
    for owner, key_id in itertools.product(
        ["acme", "globex", "", "../acme", None], ["k-1", "", None]
    ):
        yield (
            KEYS,
            {
                "subject": subject("acme", ["member"]),
                "key": {"tenant": owner, "id": key_id},
            },
        )
    yield KEYS, {"subject": subject("acme", ["member"])}
    yield KEYS, {"subject": None, "key": {"tenant": "acme", "id": "k-1"}}


def rows() -> list[tuple[str, dict]]:
    return [
        *access_rows(), *storage_rows(), *limits_rows(), *features_rows(), *keys_rows()
    ]  # fmt: skip
