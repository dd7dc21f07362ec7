"""Identifiers: tenant IDs chosen by the operator, random prefixed object IDs."""

from __future__ import annotations

import re
import secrets

TENANT_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"
AGENT_ID = r"^ag_[0-9a-f]{24}$"
EXECUTION_ID = r"^ex_[0-9a-f]{24}$"
CREDENTIAL_ID = r"^cr_[0-9a-f]{24}$"

_TENANT_ID = re.compile(TENANT_ID)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def is_tenant_id(value: object) -> bool:
    return isinstance(value, str) and _TENANT_ID.fullmatch(value) is not None


def new_request_id() -> str:
    return secrets.token_hex(16)
