"""The reference multi-tenant service that tenantguard attacks (see API.md).

The exports load on first use, so that `python -m stack.keys` (the
re-encryption job) starts without the web framework.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["Settings", "create_app", "serve"]

_EXPORTS = {
    "Settings": "stack.settings",
    "create_app": "stack.app",
    "serve": "stack.server",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'stack' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
