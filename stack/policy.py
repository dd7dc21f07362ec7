"""Asking the policies, and acting on their answer.

The input is always built from the verified principal and the resource as the
database knows it. A denial is written to the audit log and then raised as the
error matching the decision's status; nothing is admitted without `allow`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from enforcement import Decision, PolicyEngine
from enforcement.storage import PathRefused
from stack.audit import AuditEvent, AuditLog, RequestTrail, detail
from stack.auth import Principal
from stack.errors import (
    ApiError,
    InvalidRequest,
    NotFound,
    Unavailable,
    from_decision,
)

log = logging.getLogger("tenantguard.stack")

ACCESS = "tenantguard/access/decision"
STORAGE = "tenantguard/storage/decision"
LIMITS = "tenantguard/limits/decision"
KEYS = "tenantguard/keys/decision"
FEATURES = "tenantguard/features/decision"


@dataclass(frozen=True)
class Target:
    """What a request acts on, as the audit log names it."""

    action: str
    resource_type: str
    resource_id: str | None = None


@dataclass(frozen=True)
class Enforcer:
    """One request's questions to the policy engine, with its audit trail."""

    engine: PolicyEngine
    audit: AuditLog
    principal: Principal
    request_id: str
    now: datetime
    cross_tenant_error: Callable[[], ApiError] = NotFound
    # Undo whatever the request began before a denial is recorded: a denied
    # request changes nothing, and on SQLite its open write would otherwise
    # block the audit log's own transaction.
    rollback: Callable[[], None] = lambda: None
    trail: RequestTrail | None = None

    def access(self, target: Target, tenant: str) -> None:
        resource = {"type": target.resource_type, "tenant": tenant}
        if target.resource_id is not None:
            resource["id"] = target.resource_id
        self._enforce(ACCESS, {"action": target.action, "resource": resource}, target)

    def storage(self, target: Target, path: str) -> None:
        self._enforce(STORAGE, {"action": target.action, "path": path}, target)

    def limit(self, target: Target, kind: str, current: int, retry_after: int) -> None:
        usage = {"kind": kind, "current": current}
        self._enforce(LIMITS, {"usage": usage}, target, retry_after=retry_after)

    def feature(self, target: Target, feature: str) -> None:
        self._enforce(FEATURES, {"feature": feature}, target)

    def key(self, target: Target, tenant: str, key_id: str) -> None:
        self._enforce(KEYS, {"key": {"tenant": tenant, "id": key_id}}, target)

    def absent(self, target: Target, owner: str | None) -> NoReturn:
        """Answer for an object the caller's tenant does not hold.

        `owner` is the tenant holding it, if any. Missing and foreign objects
        get the same policy question, audit write and 404 (timing and engine
        outages included), so the answer tells the caller nothing.
        """
        foreign = owner is not None and owner != self.principal.tenant
        resource = {"type": target.resource_type, "id": target.resource_id}
        if foreign:
            resource["tenant"] = owner
        decision = self.ask(ACCESS, {"action": target.action, "resource": resource})
        if decision.allow:
            log.error(
                "policy allowed %s on an object outside the tenant", target.action
            )

        event = "cross_tenant_attempt" if foreign else "denied"
        reason = "not_found" if decision.allow else decision.reason.code
        self.record(event, reason, target, target_tenant=owner if foreign else None)
        if decision.status == Unavailable.status:
            raise Unavailable()
        raise self.cross_tenant_error() if foreign else NotFound()

    def missing(self, target: Target) -> NoReturn:
        """Answer 404 for something that is not there, and audit it."""
        self.record("denied", "not_found", target)
        raise NotFound()

    def path_refused(self, target: Target, refused: PathRefused) -> NoReturn:
        """Answer 400 for a path the storage resolver refused, and audit why:
        the policy allowed its text, the disk did not (a link, a hard link) or
        an archive member would leave the root."""
        reason = (
            "archive_refused"
            if refused.problem.startswith("archive")
            else ("storage_path_refused")
        )
        note = detail(problem=refused.problem, where=refused.detail)
        self.record("denied", reason, target, detail=note)
        raise InvalidRequest(str(refused))

    def accounted(self, object_id: str) -> None:
        """`object_id` was resolved in the caller's own tenant."""
        if self.trail is not None:
            self.trail.ids.add(object_id.lower())

    def ask(self, entry_point: str, question: dict[str, Any]) -> Decision:
        decision = self.engine.decide(
            entry_point, {"subject": self.principal.subject(), **question}
        )
        log.debug("%s -> %s %s", entry_point, decision.status, decision.reason.code)
        return decision

    def record(
        self,
        event: str,
        reason: str,
        target: Target,
        *,
        target_tenant: str | None = None,
        detail: str | None = None,
    ) -> None:
        self.rollback()
        record = AuditEvent(
            event=event,
            decision="deny",
            reason=reason,
            request_id=self.request_id,
            actor_tenant=self.principal.tenant,
            actor_user=self.principal.user,
            action=target.action,
            resource_type=target.resource_type,
            resource_id=target.resource_id,
            target_tenant=target_tenant,
            detail=detail,
        )
        self.audit.record(record, self.now)
        if self.trail is not None:
            self.trail.note(record)

    def _enforce(
        self,
        entry_point: str,
        question: dict[str, Any],
        target: Target,
        *,
        retry_after: int = 60,
    ) -> None:
        decision = self.ask(entry_point, question)
        if decision.allow:
            return
        self.record("denied", decision.reason.code, target)
        raise from_decision(decision, retry_after=retry_after)
