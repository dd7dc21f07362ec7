"""tenantguard's policy enforcement point: the library a service calls.

The public surface is re-exported here; everything else is private to its
module.
"""

from enforcement.decision import Decision, PolicyEngine, Reason
from enforcement.embedded import Embedded
from enforcement.errors import EngineError, TenantGuardError, UsageError
from enforcement.opa_server import OpaServer

__all__ = [
    "Decision",
    "Embedded",
    "EngineError",
    "OpaServer",
    "PolicyEngine",
    "Reason",
    "TenantGuardError",
    "UsageError",
]
