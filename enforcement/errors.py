"""The exceptions of tenantguard, one tree for every package.

    TenantGuardError
     ├── UsageError           a caller or user got something wrong: the message
     │    │                   shows the bad value and the fix
     │    └── ScenarioError   (harness.errors) a malformed scenario or profile,
     │                        located at file:line
     ├── EngineError          a policy engine could not be configured or updated
     │                        (a decision never raises: it denies instead)
     ├── TenantIsolationError (enforcement.tenancy) a statement or row would
     │                        cross the tenant boundary; it was not executed
     ├── PathRefused          (enforcement.storage) a path, tenant ID or link
     │    │                   would leave the tenant's storage root
     │    └── ArchiveRefused  an archive, or one of its members, is refused
     ├── KeyUnavailable       (enforcement.keys) a key or sealed value did not
     │                        open; deliberately one opaque error
     └── TargetError          (harness.errors) the attacked target misbehaved

Cross-tenant and cryptographic failures never surface as a distinct
exception to an API caller; they become one opaque outcome (404) and the
cause goes to the audit log.
"""


class TenantGuardError(Exception):
    """Base of every exception raised on purpose by tenantguard."""


class UsageError(TenantGuardError):
    """A bad option, file or argument; the message says how to fix it."""


class EngineError(TenantGuardError):
    """A policy engine could not be built, reached for an update, or loaded."""
