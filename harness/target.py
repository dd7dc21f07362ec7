"""A reachable target: its profile, its base URL and a transport.

It turns expanded request specs into HTTP requests, provisions tenants and
mints their tokens, and reads the audit log, all as the profile says.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from harness import template
from harness.errors import ScenarioError, TargetError
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
Recorder = Callable[[Exchange], None]


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
        response = self.call(
            "token", context, f"mint the {actor}'s token", actor, record
        )
        token = self.extract(response, token_section["token"], ("token", "token"))
        return Tenant(actor, tenant_id, user, str(token))

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

    def endpoint(
        self,
        at_error: Callable[[str, str], ScenarioError],
        reference: str,
        context: template.Context,
    ) -> str:
        """The path of `resource.item` or `resource.list` from the profile."""
        name, _, kind = str(reference).rpartition(".")
        resource = self.profile.resource(name)
        if resource is None or kind not in resource:
            known = sorted(self.profile.data.get("resources") or {})
            raise at_error(
                f"the profile {self.profile.name!r} has no endpoint {reference!r}",
                "use <resource>.item or <resource>.list, the resource one of: "
                + ", ".join(known),
            )
        return str(self.expand(("resources", name, kind), resource[kind], context))


def _status_is(status: int, wanted: int | str) -> bool:
    return (
        status == wanted
        if isinstance(wanted, int)
        else str(status)[0] == str(wanted)[0]
    )


def _body(spec: Mapping[str, Any]) -> tuple[bytes, str | None]:
    if "json" in spec:
        return json.dumps(spec["json"]).encode(), "application/json"
    if "form" in spec:
        form = {str(k): template.render(v) for k, v in spec["form"].items()}
        return urllib.parse.urlencode(
            form
        ).encode(), "application/x-www-form-urlencoded"
    if "body" in spec:
        return template.render(spec["body"]).encode(), None
    return b"", None
