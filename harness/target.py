"""A reachable target: its profile, its base URL and a transport.

It turns expanded request specs into HTTP requests, provisions tenants and
mints their tokens, and reads the audit log, all as the profile says.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from harness import archives, template
from harness.errors import TargetError
from harness.http import (
    Exchange,
    HttpRequest,
    HttpResponse,
    Transport,
    build_url,
    describe_response,
)
from harness.profile import Profile

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
BODIES = ("json", "body", "form", "multipart", "archive")
Recorder = Callable[[Exchange], None]
DEFAULT_ROLES = ("admin",)


class NotOffered(Exception):
    """The target profile lacks what a step needs: the item does not apply."""


@dataclass(frozen=True)
class Tenant:
    actor: str
    id: str
    user: str
    token: str

    def public(self) -> dict[str, str]:
        """What scenarios may read about this tenant (`{{victim.tenant}}`)."""
        facts = {"tenant": self.id, "user": self.user}
        return facts | ({"token": self.token} if self.actor == "attacker" else {})


class Target:
    def __init__(
        self,
        profile: Profile,
        base_url: str,
        transport: Transport,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.profile, self.base_url, self.transport = profile, base_url, transport
        self.sleep = sleep

    def secrets(self) -> dict[str, str]:
        """Profile values read from the environment, shown as $NAME in output."""
        raw = self.profile.data.get("variables") or {}
        return {
            self.profile.variables[name]: f"${value['env']}"
            for name, value in raw.items()
            if isinstance(value, dict) and self.profile.variables.get(name)
        }

    def build(
        self, spec: Mapping[str, Any], headers: Mapping[str, str] = {}
    ) -> HttpRequest:  # noqa: B006
        """An HTTP request from an expanded request spec, plus extra headers."""
        method = str(spec["method"]).upper()
        merged = {str(k): template.render(v) for k, v in headers.items()}
        for name, value in (spec.get("headers") or {}).items():
            merged = {k: v for k, v in merged.items() if k.lower() != str(name).lower()}
            merged[str(name)] = template.render(value)
        body, content_type = _body(spec)
        if content_type and not any(k.lower() == "content-type" for k in merged):
            merged["Content-Type"] = content_type
        url = build_url(self.base_url, str(spec["path"]), spec.get("query"))
        return HttpRequest(method, url, tuple(merged.items()), body)

    def send(self, request: HttpRequest) -> HttpResponse:
        if request.method not in METHODS:
            raise ValueError(f"method {request.method!r} is not one of {METHODS}")
        return self.transport.send(request)

    def context(self, **values: Any) -> template.Context:
        return template.Context(dict(self.profile.variables) | values)

    def expand(self, at: tuple, value: Any, context: template.Context) -> Any:
        try:
            return template.expand(value, context)
        except template.TemplateError as exc:
            raise self.profile.error(at, exc.problem, exc.fix) from None

    def call(
        self,
        section: str,
        context: template.Context,
        label: str,
        actor: str,
        record: Recorder,
    ) -> HttpResponse:
        """Send a profile section's request and check its expected status."""
        spec = self.profile.section(section)
        request = self.build(
            self.expand((section, "request"), spec["request"], context)
        )
        response = self.send(request)
        record(Exchange(section, label, actor, request, response))
        wanted = spec.get("expect", "2xx")
        wanted = wanted if isinstance(wanted, list) else [wanted]
        if not any(_status_is(response.status, one) for one in wanted):
            raise TargetError(
                f"{label}: the target answered {response.status}, the profile "
                f"({self.profile.path}:{self.profile.line(section)}) expects "
                f"{' or '.join(map(str, wanted))}\n"
                + describe_response(response, self.secrets())
            )
        return response

    def provision(self, actor: str, record: Recorder) -> Tenant:
        """A fresh tenant for `actor` (victim or attacker), with a token."""
        context = self.context(actor=actor)
        tenant_id = self.expand(
            ("tenant", "id"), self.profile.section("tenant")["id"], context
        )
        context.values["tenant"] = {"id": tenant_id}
        self.call("tenant", context, f"provision the {actor} tenant", actor, record)

        token_section = self.profile.section("token")
        user = self.expand(
            ("token", "user"), token_section.get("user", f"{actor}-user"), context
        )
        context.values["user"] = user
        roles = list(token_section.get("roles", DEFAULT_ROLES))
        token = self._mint(context, roles, f"mint the {actor}'s token", record)
        return Tenant(actor, tenant_id, user, token)

    def mint(self, tenant: Tenant, roles: list[str], record: Recorder) -> str:
        """Another token for `tenant`'s user, with only `roles`."""
        if "roles" not in template.names_in(self.profile.section("token")["request"]):
            raise NotOffered(
                f"the profile {self.profile.name!r} mints tokens without reading "
                "{{roles}}, so no token with other roles can be made",
            )
        context = self.context(actor=tenant.actor, user=tenant.user)
        context.values["tenant"] = {"id": tenant.id}
        label = f"mint a {'+'.join(roles) or 'role-less'} token for the {tenant.actor}"
        return self._mint(context, roles, label, record)

    def _mint(
        self, context: template.Context, roles: list[str], label: str, record: Recorder
    ) -> str:
        context.values["roles"] = roles
        actor = str(context.values.get("actor", ""))
        response = self.call("token", context, label, actor, record)
        at = ("token", "token")
        return str(self.extract(response, self.profile.section("token")["token"], at))

    def operator_headers(self) -> dict[str, str]:
        """The headers of a request made as the operator (`as: operator`)."""
        operator = self.profile.section("operator")
        if operator is None:
            raise NotOffered(
                f"the profile {self.profile.name!r} has no `operator:` section, so "
                "no step can act as the operator"
            )
        headers = self.expand(
            ("operator", "headers"), operator["headers"], self.context()
        )
        return {str(name): str(value) for name, value in headers.items()}

    def extract(self, response: HttpResponse, expression: str, at: tuple) -> Any:
        try:
            return template.Context(response.view()).lookup(expression)
        except template.TemplateError as exc:
            raise TargetError(
                f"{self.profile.path}:{self.profile.line(*at)}: {expression} is not in "
                f"the response ({exc.problem})\n"
                + describe_response(response, self.secrets())
            ) from None

    def auth_headers(self, token: str) -> dict[str, str]:
        auth = self.profile.section("auth")
        value = self.expand(("auth", "value"), auth["value"], self.context(token=token))
        return {auth["header"]: str(value)}

    def read_audit(
        self, request_id: str, record: Recorder, wanted: Callable[[list], bool]
    ) -> list | None:
        """Audit records for `request_id`, polled until `wanted` holds or the
        profile's wait runs out; None when the profile exposes no audit log."""
        audit = self.profile.section("audit")
        if audit is None:
            return None
        deadline = time.monotonic() + float(audit.get("wait_seconds", 2.0))
        while True:
            records = self._audit_once(audit, request_id, record)
            if wanted(records) or time.monotonic() >= deadline:
                return records
            self.sleep(0.1)

    def _audit_once(self, audit: dict, request_id: str, record: Recorder) -> list:
        context = self.context(request_id=request_id)
        response = self.call(
            "audit", context, f"read the audit log for {request_id}", "operator", record
        )
        records = self.extract(response, audit["records"], ("audit", "records"))
        return records if isinstance(records, list) else []

    def endpoint(self, spec: Mapping[str, Any], context: template.Context) -> dict:
        """`spec` with its `endpoint` resolved from the profile: the path of
        `resource.item` or `resource.list`, or a named endpoint's whole request
        (method, path, body, headers) under the keys `spec` sets itself."""
        reference = str(spec["endpoint"])
        found = self.profile.endpoint(reference)
        if found is None:
            raise NotOffered(
                f"the profile {self.profile.name!r} has no endpoint {reference!r} "
                f"({self.profile.describe_offer()})"
            )
        at, definition = found
        resolved = {
            k: v for k, v in spec.items() if k not in ("endpoint", "id", "parent")
        }
        if isinstance(definition, str):
            resolved["path"] = str(self.expand(at, definition, context))
            return resolved
        base = self.expand(at, definition, context)
        headers = {**(base.get("headers") or {}), **(spec.get("headers") or {})}
        merged = {**base, **resolved}
        if headers:
            merged["headers"] = headers
        if any(key in resolved for key in BODIES):
            for key in BODIES:
                if key in base and key not in resolved:
                    del merged[key]
        return merged

    def offers(self, requirement: str) -> bool:
        return self.profile.offers(requirement)


def _status_is(status: int, wanted: int | str) -> bool:
    return (
        status == wanted
        if isinstance(wanted, int)
        else str(status)[0] == str(wanted)[0]
    )


def _body(spec: Mapping[str, Any]) -> tuple[bytes, str | None]:
    if "multipart" in spec:
        return multipart(spec["multipart"], spec.get("boundary"))
    if "json" in spec:
        return json.dumps(spec["json"]).encode(), "application/json"
    if "form" in spec:
        form = {str(k): template.render(v) for k, v in spec["form"].items()}
        return urllib.parse.urlencode(
            form
        ).encode(), "application/x-www-form-urlencoded"
    if "body" in spec:
        return template.render(spec["body"]).encode(), None
    if "archive" in spec:
        return archives.build(spec["archive"])
    return b"", None


def multipart(parts: Mapping[str, Any], boundary: str | None) -> tuple[bytes, str]:
    """A multipart/form-data body; a part with `filename` is a file, its name
    sent as written, backslashes and all (only quotes and line breaks are
    percent-encoded, as browsers do). The boundary is derived from the parts,
    so the same parts give the same bytes."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
    boundary = boundary or f"tenantguard-{digest.hexdigest()[:24]}"
    chunks = []
    for name, part in parts.items():
        if isinstance(part, Mapping):
            disposition = (
                f'form-data; name="{_escape(name)}"; '
                f'filename="{_escape(str(part["filename"]))}"'
            )
            kind = str(part.get("content_type", "application/octet-stream"))
            head = f"Content-Disposition: {disposition}\r\nContent-Type: {kind}"
            content = template.render(part.get("content", ""))
        else:
            head = f'Content-Disposition: form-data; name="{_escape(name)}"'
            content = template.render(part)
        chunks.append(f"--{boundary}\r\n{head}\r\n\r\n{content}\r\n")
    body = "".join(chunks) + f"--{boundary}--\r\n"
    return body.encode(), f"multipart/form-data; boundary={boundary}"


def _escape(text: str) -> str:
    return text.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
