"""The audit trail of a tenant request, completed before its answer leaves.

Routes audit what they decide. Two kinds of request would otherwise leave no
record, so this middleware (on every path, for a caller whose token
verifies; on `/admin/`, for the operator) adds them before the response
starts:

- Object IDs the request names that its route never resolved: in a path no
  route matched (`/v1/agents/{id}/`, `/api/v1/agents/{id}`, `/v2/...`), in a
  path whose body or parameters were refused (400, 405), or in a query,
  header or body field the route ignores.
  Each ID owned by another tenant is a `cross_tenant_attempt` (reason
  `foreign_reference`); an ID owned by nobody is `denied`
  (`unknown_reference`), so foreign and missing IDs cost the same work.
- Any other 4xx answer with no record yet: `denied`, reason the error code
  (`invalid_request`, `not_found`, `method_not_allowed`, ...).

If the records cannot be written the answer becomes 503 (fail closed).
"""

from __future__ import annotations

import logging
import re
import urllib.parse

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from enforcement.tenancy import Tenancy
from stack.audit import AuditEvent
from stack.auth import Principal
from stack.context import (
    is_operator,
    request_id_of,
    request_now,
    services_of,
    trail_of,
    verified_principal,
)
from stack.db import Agent, Credential, Execution
from stack.errors import Unavailable
from stack.http import error_response

log = logging.getLogger("tenantguard.stack")

OBJECT_ID = re.compile(r"(?<![0-9a-z])(ag|ex|cr)_[0-9a-f]{24}(?![0-9a-z])", re.I)
MODELS = {
    "ag": (Agent, "agent"),
    "ex": (Execution, "execution"),
    "cr": (Credential, "credential"),
}
MAX_REFERENCES = 32  # object IDs looked up per request; the rest are counted
MAX_SCANNED_BODY = 1024 * 1024
SKIPPED_HEADERS = frozenset({b"authorization", b"cookie"})
STATUS_CODES = {
    400: "invalid_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    429: "limit_exceeded",
}


class AuditTrail:
    """ASGI middleware; sits inside RequestFrame (which sets the request ID)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = bytearray()
        exchange = _Exchange(scope, body, send)
        await self.app(scope, _capture(scope, receive, body), exchange.send)


class _Exchange:
    def __init__(self, scope: Scope, body: bytearray, send: Send) -> None:
        self.scope, self.body, self._send = scope, body, send
        self.replaced = False

    async def send(self, message: Message) -> None:
        if self.replaced:
            return
        if message["type"] == "http.response.start":
            request, status = Request(self.scope), message["status"]
            try:
                await run_in_threadpool(complete, request, status, bytes(self.body))
            except Unavailable as error:
                self.replaced = True
                await error_response(error)(self.scope, _no_body, self._send)
                return
        await self._send(message)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def _capture(scope: Scope, receive: Receive, body: bytearray) -> Receive:
    """Keep a copy of a JSON or form body the route reads (not file uploads)."""
    uploads = ("/v1/files/", "/v1/archives/")
    if scope["method"] == "PUT" and scope["path"].startswith(uploads):
        return receive

    async def receive_copied() -> Message:
        message = await receive()
        if len(body) < MAX_SCANNED_BODY:
            body.extend(message.get("body", b"")[: MAX_SCANNED_BODY - len(body)])
        return message

    return receive_copied


def complete(request: Request, status: int, body: bytes) -> None:
    """Write the records the request still owes (see the module's doc)."""
    if request.url.path.startswith("/admin/"):
        principal = OPERATOR if is_operator(request) else None
    else:
        principal = verified_principal(request)
    if principal is None:
        return
    trail = trail_of(request)
    events = []
    if principal is not OPERATOR:
        references = sorted(_references(request, body) - trail.ids)
        events = _reference_events(request, principal, references)
    if 400 <= status < 500 and not trail.records and not events:
        code = STATUS_CODES.get(status, f"http_{status}")
        events.append(_event(request, principal, "denied", code, None, None, None))
    if events:
        services_of(request).audit.record_all(events, request_now(request))
        for event in events:
            trail.note(event)


# The operator's own mistakes (a tenant ID that is a path, a bad setting) are
# audited too; the operator has no tenant.
OPERATOR = Principal(tenant=None, user="operator", roles=())  # type: ignore[arg-type]


def _references(request: Request, body: bytes) -> set[str]:
    scope = request.scope
    headers = [
        value.decode("latin-1")
        for name, value in scope["headers"]
        if name.lower() not in SKIPPED_HEADERS
    ]
    texts = [
        scope["path"],
        scope.get("raw_path", b"").decode("latin-1"),
        urllib.parse.unquote_plus(scope.get("query_string", b"").decode("latin-1")),
        *headers,
        urllib.parse.unquote_plus(body.decode("utf-8", "replace")),
    ]
    return {m.group(0).lower() for text in texts for m in OBJECT_ID.finditer(text)}


def _reference_events(
    request: Request, principal: Principal, references: list[str]
) -> list[AuditEvent]:
    if len(references) > MAX_REFERENCES:
        log.info(
            "%d object IDs in one request; %d looked up",
            len(references),
            MAX_REFERENCES,
        )
    looked_up = references[:MAX_REFERENCES]
    owners = _owners(request, looked_up)
    events = []
    for object_id in looked_up:
        owner = owners.get(object_id)
        if owner == principal.tenant:
            continue
        foreign = owner is not None
        events.append(
            _event(
                request,
                principal,
                "cross_tenant_attempt" if foreign else "denied",
                "foreign_reference" if foreign else "unknown_reference",
                MODELS[object_id[:2]][1],
                object_id,
                owner,
            )
        )
    return events


def _owners(request: Request, references: list[str]) -> dict[str, str]:
    """The tenant owning each ID: the one cross-tenant read, in operator scope."""
    if not references:
        return {}
    owners: dict[str, str] = {}
    sessions = services_of(request).sessions
    try:
        with sessions() as session, Tenancy.operator_scope(session, "references"):
            for prefix, (model, _) in MODELS.items():
                wanted = [ref for ref in references if ref.startswith(prefix)]
                if wanted:
                    statement = select(model.id, model.tenant_id)
                    rows = session.execute(statement.where(model.id.in_(wanted)))
                    owners.update({row.id: row.tenant_id for row in rows})
    except SQLAlchemyError:
        log.exception("the owners of a request's object IDs could not be read")
        raise Unavailable() from None
    return owners


def _event(
    request: Request,
    principal: Principal,
    event: str,
    reason: str,
    resource_type: str | None,
    resource_id: str | None,
    target_tenant: str | None,
) -> AuditEvent:
    return AuditEvent(
        event=event,
        decision="deny",
        reason=reason,
        request_id=request_id_of(request),
        actor_tenant=principal.tenant,
        actor_user=principal.user,
        action=request.method.lower(),
        resource_type=resource_type,
        resource_id=resource_id or request.url.path[:300],
        target_tenant=target_tenant,
    )
