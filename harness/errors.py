"""The harness's branch of tenantguard's exception tree (see enforcement.errors).

    TenantGuardError
     ├── UsageError
     │    └── ScenarioError    a scenario, profile or option is malformed: the
     │                         message names the file, the line and the fix
     └── TargetError           the target did not behave as its profile says
                               (unreachable, provisioning refused, a setup step
                               failed): the item errors, it is not a finding

A breach is not an exception raised to a caller: the runner returns findings
and the pytest item turns them into one failure (see harness.findings).
"""

from __future__ import annotations

from enforcement.errors import TenantGuardError, UsageError


class ScenarioError(UsageError):
    """A malformed scenario or profile, located at `path:line`."""

    def __init__(self, path: object, line: int | None, problem: str, fix: str):
        self.path, self.line, self.problem, self.fix = str(path), line, problem, fix
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {problem}\n  fix: {fix}")


class TargetError(TenantGuardError):
    """The target answered something its profile does not allow for."""
