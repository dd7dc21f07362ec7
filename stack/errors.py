"""Every answer of the stack that is not a success, as one exception tree.

    TenantGuardError              (enforcement.errors)
     ├── UsageError               a bad setting or option; says how to fix it
     └── ApiError                 an HTTP answer: status, stable code, message
          ├── InvalidRequest      400 invalid_request
          ├── Unauthenticated     401 unauthenticated (the cause: audit log only)
          ├── Forbidden           403 forbidden
          ├── NotFound            404 not_found, always the very same body
          ├── MethodNotAllowed    405 method_not_allowed
          ├── Conflict            409 conflict
          ├── PayloadTooLarge     413 payload_too_large
          ├── LimitExceeded       429 limit_exceeded, with Retry-After
          └── Unavailable         503 policy_unavailable: no trustworthy decision
                                  (engine down, audit log unwritable): fail closed
    KeyUnavailable, PathRefused   (enforcement.keys, enforcement.storage): turned
                                  into an audited 503 and 400 by the routes

ApiError itself is the generic 500 for a genuine bug. Messages are safe to
show to the caller: they never name another tenant, its objects, a path
outside the caller's root, or a secret.
"""

from __future__ import annotations

from enforcement import Decision, TenantGuardError

NOT_FOUND_MESSAGE = "resource not found"


class ApiError(TenantGuardError):
    status = 500
    code = "internal_error"
    default_message = "internal error"

    def __init__(self, message: str | None = None, *, headers=None) -> None:
        self.message = message or self.default_message
        self.headers: dict[str, str] = dict(headers or {})
        super().__init__(self.message)

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


class InvalidRequest(ApiError):
    status, code, default_message = 400, "invalid_request", "the request is invalid"


class Unauthenticated(ApiError):
    status, code = 401, "unauthenticated"
    default_message = "a valid bearer token is required"

    def __init__(self, cause: str, claimed_tenant: str | None = None) -> None:
        super().__init__(headers={"WWW-Authenticate": "Bearer"})
        self.cause = cause
        self.claimed_tenant = claimed_tenant


class Forbidden(ApiError):
    status, code = 403, "forbidden"
    default_message = "your roles do not allow this action"


class NotFound(ApiError):
    status, code, default_message = 404, "not_found", NOT_FOUND_MESSAGE

    def __init__(self) -> None:
        super().__init__()


class Conflict(ApiError):
    status, code, default_message = 409, "conflict", "the resource already exists"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"
    default_message = "the request body is too large"


class LimitExceeded(ApiError):
    status, code = 429, "limit_exceeded"
    default_message = "your tenant has reached its limit for this kind of work"

    def __init__(self, message: str | None, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


class Unavailable(ApiError):
    status, code = 503, "policy_unavailable"
    default_message = "the request could not be decided; try again later"


class MethodNotAllowed(ApiError):
    status, code = 405, "method_not_allowed"
    default_message = "this method is not allowed on this path"


def from_decision(decision: Decision, *, retry_after: int = 60) -> ApiError:
    """The error a denying decision answers with; unknown statuses fail closed."""
    message = decision.reason.message
    match decision.status:
        case 400:
            return InvalidRequest(message)
        case 401:
            return Unauthenticated(decision.reason.code)
        case 403:
            return Forbidden(message)
        case 404:
            return NotFound()
        case 429:
            return LimitExceeded(message, retry_after)
        case _:
            return Unavailable()
