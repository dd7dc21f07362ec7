"""The decision every policy engine returns, and the protocol engines follow.

A decision is the only thing an enforcement point acts on. Engines never
raise from `decide`: when no trustworthy decision can be had, they return a
denial whose reason code names what went wrong (fail closed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

ENTRY_POINTS = (
    "tenantguard/access/decision",
    "tenantguard/storage/decision",
    "tenantguard/limits/decision",
    "tenantguard/features/decision",
    "tenantguard/keys/decision",
)

_REASON_KEYS = frozenset({"code", "category", "message"})
_DECISION_KEYS = frozenset({"allow", "status", "reason"})


@dataclass(frozen=True)
class Reason:
    code: str
    category: str
    message: str


@dataclass(frozen=True)
class Decision:
    allow: bool
    status: int
    reason: Reason

    @classmethod
    def from_result(cls, result: Any) -> Decision:
        """Build a decision from an engine's raw result, or raise ValueError."""
        if not isinstance(result, Mapping) or set(result) != _DECISION_KEYS:
            raise ValueError(f"decision must have keys {sorted(_DECISION_KEYS)}")
        reason = result["reason"]
        if not isinstance(reason, Mapping) or set(reason) != _REASON_KEYS:
            raise ValueError(f"reason must have keys {sorted(_REASON_KEYS)}")
        if not all(isinstance(reason[key], str) for key in _REASON_KEYS):
            raise ValueError("reason fields must be strings")

        allow, status = result["allow"], result["status"]
        if not isinstance(allow, bool) or type(status) is not int:
            raise ValueError("allow must be a boolean and status an integer")
        if (allow and not 200 <= status < 300) or (
            not allow and not 400 <= status < 600
        ):
            raise ValueError(f"status {status} contradicts allow={allow}")
        return cls(allow, status, Reason(**{key: reason[key] for key in _REASON_KEYS}))

    def as_dict(self) -> dict[str, Any]:
        reason = self.reason
        return {
            "allow": self.allow,
            "status": self.status,
            "reason": {
                "code": reason.code,
                "category": reason.category,
                "message": reason.message,
            },
        }


_ENGINE_MESSAGES = {
    "engine_unavailable": "the policy engine could not be reached",
    "engine_timeout": "the policy engine did not answer in time",
    "engine_http_error": "the policy engine answered with an error",
    "engine_undefined": "the policy engine has no decision for this request",
    "engine_malformed": "the policy engine answered with a malformed decision",
    "engine_error": "the policy engine failed to evaluate the request",
}


def engine_denial(code: str) -> Decision:
    """The fail-closed decision for an engine failure of kind `code`."""
    return Decision(False, 503, Reason(code, "engine", _ENGINE_MESSAGES[code]))


@runtime_checkable
class PolicyEngine(Protocol):
    """What the stack and the harness need from a policy engine."""

    def decide(self, entry_point: str, input: Mapping[str, Any]) -> Decision:
        """Evaluate `entry_point` (e.g. "tenantguard/access/decision"); never raise."""
        ...

    def put_data(self, path: str, value: Any) -> None:
        """Replace the data document at `path` (e.g. "tenants/acme")."""
        ...

    def close(self) -> None: ...
