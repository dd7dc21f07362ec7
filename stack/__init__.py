"""The reference multi-tenant service that tenantguard attacks (see API.md)."""

from stack.app import create_app
from stack.server import serve
from stack.settings import Settings

__all__ = ["Settings", "create_app", "serve"]
