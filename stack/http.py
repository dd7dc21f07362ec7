"""The HTTP frame around every request: request IDs, body limits, error bodies.

Every error leaves through `error_response`, so equal errors are equal bytes:
a 404 for another tenant's object, a missing object, an unknown route or a
bad operator key has one body and one set of headers (X-Request-ID aside).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stack.context import audit_spoofing, authenticate, operator_services
from stack.errors import (
    ApiError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
)
from stack.ids import new_request_id

log = logging.getLogger("tenantguard.stack")

REQUEST_ID_HEADER = b"x-request-id"
TENANT_FIELDS = frozenset({"tenant_id", "tenant", "tenantid"})
MAX_REPORTED_ERRORS = 3


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


class RequestFrame:
    """Outermost middleware: a fresh X-Request-ID on every response, one log
    line per request, and a generic 500 (logged) for anything unexpected."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        response = _Response(send, request_id)

        began = time.perf_counter()
        try:
            await self.app(scope, receive, response.send)
        except Exception:
            method, path = scope["method"], scope["path"]
            log.exception("unhandled error in %s %r [%s]", method, path, request_id)
            if response.status is None:
                await error_response(ApiError())(scope, receive, response.send)
        elapsed_ms = (time.perf_counter() - began) * 1000
        log.info(
            "%s %r %s %.1fms [%s]",  # %r: a path may hold control characters
            scope["method"],
            scope["path"],
            response.status,
            elapsed_ms,
            request_id,
        )


class _Response:
    """The way out: stamps X-Request-ID on the response, remembers its status."""

    def __init__(self, send: Send, request_id: str) -> None:
        self._send = send
        self._header = (REQUEST_ID_HEADER, request_id.encode())
        self.status: int | None = None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), self._header]
            self.status = message["status"]
        await self._send(message)


class BodyLimit:
    """Refuse bodies over the limit before reading them: by Content-Length up
    front, and by counting while the body streams in (413 either way)."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, max_file_bytes: int
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_file_bytes = max_file_bytes

    def limit_for(self, scope: Scope) -> int:
        uploads = ("/v1/files/", "/v1/archives/")
        is_upload = scope["method"] == "PUT" and scope["path"].startswith(uploads)
        return self.max_file_bytes if is_upload else self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        try:
            declared = _content_length(scope)
        except ValueError:
            await error_response(InvalidRequest("Content-Length is not a number"))(
                scope, receive, send
            )
            return
        if declared is not None and declared > limit:
            await error_response(PayloadTooLarge())(scope, receive, send)
            return
        await self.app(scope, _counting(receive, limit), send)


def _content_length(scope: Scope) -> int | None:
    values = [v for k, v in scope["headers"] if k.lower() == b"content-length"]
    if not values:
        return None
    if len(set(values)) > 1 or not values[0].strip().isdigit():
        raise ValueError("bad Content-Length")
    return int(values[0])


def _counting(receive: Receive, limit: int) -> Receive:
    received = 0

    async def receive_counted() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            # FastAPI re-raises HTTPException from a body read; any other
            # exception there would become its own 400.
            raise HTTPException(413)
        return message

    return receive_counted


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(HTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_validation_error)


def _on_api_error(request: Request, error: ApiError) -> JSONResponse:
    return error_response(error)


def _on_http_exception(request: Request, error: HTTPException) -> JSONResponse:
    match error.status_code:
        case 404:
            return error_response(NotFound())
        case 405 if request.url.path.startswith("/admin/"):
            # The admin surface does not exist for anyone but the operator:
            # not even which of its paths take which method.
            try:
                operator_services(request)
            except ApiError as refusal:
                return error_response(refusal)
            return error_response(MethodNotAllowed(headers=error.headers))
        case 405:
            return error_response(MethodNotAllowed(headers=error.headers))
        case 413:
            return error_response(PayloadTooLarge())
        case _:
            return error_response(InvalidRequest("the request body could not be read"))


def _on_validation_error(
    request: Request, error: RequestValidationError
) -> JSONResponse:
    """400 for a request that does not fit its route, but only after the caller
    has shown the right to learn that (operator key or valid token)."""
    try:
        _guard_before_validation(request, error.errors())
    except ApiError as refusal:
        return error_response(refusal)
    return error_response(InvalidRequest(describe(error.errors())))


def _guard_before_validation(request: Request, errors: list[dict[str, Any]]) -> None:
    if request.url.path.startswith("/admin/"):
        operator_services(request)
    elif request.url.path.startswith("/v1/"):
        principal = authenticate(request)
        claimed = _tenant_fields(errors)
        audit_spoofing(request, principal, claimed, "tenant_field_mismatch")


def _tenant_fields(errors: list[dict[str, Any]]) -> list[str]:
    """The tenants named by refused `tenant_id`/`tenant` fields of a body."""
    values = [
        item.get("input")
        for item in errors
        if item.get("type") == "extra_forbidden"
        and tuple(item.get("loc", ()))[:1] == ("body",)
        and str(item["loc"][-1]).lower() in TENANT_FIELDS
    ]
    return [value if isinstance(value, str) else repr(value) for value in values]


def describe(errors: list[dict[str, Any]]) -> str:
    """A short account of what is wrong, never echoing the values sent."""
    parts = [_describe_one(item) for item in errors[:MAX_REPORTED_ERRORS]]
    more = len(errors) - MAX_REPORTED_ERRORS
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _describe_one(item: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in item.get("loc", ()))
    if item.get("type") == "extra_forbidden":
        return f"{location}: unknown field"
    if item.get("type") == "json_invalid":
        return "body: malformed JSON"
    return f"{location}: {item.get('msg', 'invalid value')}"
