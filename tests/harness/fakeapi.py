"""A hand-written multi-tenant API, small enough to read, with bugs on cue.

It speaks the reference stack's contract for tenants, tokens, the audit log
and agents, as a `Transport` (no network) or behind a loopback HTTP server.
Flags switch on one bug each, so tests can see the harness catch it.
"""

from __future__ import annotations

import json
import secrets
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness.http import HttpRequest, HttpResponse

OPERATOR_KEY = "operator-key-for-tests"
NOT_FOUND = {"error": {"code": "not_found", "message": "resource not found"}}


@dataclass
class Bugs:
    no_tenant_check: bool = False  # agents of any tenant are served
    forbidden_not_404: bool = False  # another tenant's agent answers 403
    echo_id_in_404: bool = False  # a 404 body names the ID asked for
    no_audit: bool = False  # nothing is written to the audit log
    extra_header_on_foreign: bool = False  # a header betrays existence


@dataclass
class FakeApi:
    bugs: Bugs = field(default_factory=Bugs)
    tenants: set[str] = field(default_factory=set)
    agents: dict[str, dict] = field(default_factory=dict)
    audit: list[dict] = field(default_factory=list)
    requests: list[HttpRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, request: HttpRequest) -> HttpResponse:
        with self.lock:
            self.requests.append(request)
            request_id = secrets.token_hex(8)
            status, body, headers = self._route(request, request_id)
        payload = b"" if body is None else json.dumps(body).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("X-Request-ID", request_id),
            *headers,
        ]
        headers.append(("Content-Length", str(len(payload))))
        return HttpResponse(status, "", tuple(headers), payload)

    def _route(self, request: HttpRequest, request_id: str):
        url = urllib.parse.urlsplit(request.url)
        parts = [urllib.parse.unquote(p) for p in url.path.split("/") if p]
        query = dict(urllib.parse.parse_qsl(url.query))
        body = json.loads(request.body) if request.body else None
        if parts[:1] == ["admin"]:
            return self._admin(request, parts[1:], query, body)
        tenant = self._tenant_of(request)
        if tenant is None:
            return 401, {"error": {"code": "unauthenticated"}}, []
        return self._agents(request.method, parts[1:], tenant, body, request_id)

    def _admin(self, request, parts, query, body):
        if request.header("X-Operator-Key") != OPERATOR_KEY:
            return 404, NOT_FOUND, []
        if parts == ["tenants"]:
            self.tenants.add(body["id"])
            return 201, {"id": body["id"]}, []
        if len(parts) == 3 and parts[2] == "tokens":
            return 201, {"token": f"tok.{parts[1]}.sig"}, []
        records = [r for r in self.audit if r["request_id"] == query.get("request_id")]
        return 200, {"records": records}, []

    def _tenant_of(self, request: HttpRequest) -> str | None:
        value = request.header("Authorization") or ""
        token = value.removeprefix("Bearer ")
        pieces = token.split(".")
        if len(pieces) == 3 and pieces[0] == "tok" and pieces[1] in self.tenants:
            return pieces[1]
        return None

    def _agents(self, method, parts, tenant, body, request_id):
        if parts == ["agents"] and method == "POST":
            agent = {"id": "ag_" + secrets.token_hex(12), **(body or {})}
            self.agents[agent["id"]] = {**agent, "tenant": tenant}
            return 201, agent, []
        if parts == ["agents"]:
            mine = [
                self._view(a) for a in self.agents.values() if a["tenant"] == tenant
            ]
            return 200, {"items": mine, "total": len(mine)}, []
        agent = self.agents.get(parts[1]) if len(parts) == 2 else None
        if agent is None or (
            agent["tenant"] != tenant and not self.bugs.no_tenant_check
        ):
            return self._missing(parts, agent, tenant, request_id)
        if method == "DELETE":
            del self.agents[agent["id"]]
            return 204, None, []
        if method in ("PATCH", "PUT"):
            agent.update(body)
        return 200, self._view(agent), []

    def _missing(self, parts, agent, tenant, request_id):
        foreign = agent is not None
        if not self.bugs.no_audit:
            event = "cross_tenant_attempt" if foreign else "denied"
            self.audit.append(
                {"request_id": request_id, "event": event, "actor_tenant": tenant}
            )
        if foreign and self.bugs.forbidden_not_404:
            return 403, {"error": {"code": "forbidden"}}, []
        headers = (
            [("X-Owner-Hint", "another-tenant")]
            if foreign and self.bugs.extra_header_on_foreign
            else []
        )
        if self.bugs.echo_id_in_404 and len(parts) > 1:
            return 404, {"error": {"code": "not_found", "id": parts[1]}}, headers
        return 404, NOT_FOUND, headers

    @staticmethod
    def _view(agent: dict) -> dict:
        return {key: value for key, value in agent.items() if key != "tenant"}


class FakeApiServer:
    """The fake API on a loopback port, for tests that need real HTTP."""

    def __init__(self, api: FakeApi) -> None:
        self.api = api
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def _handler(self):
        api = self.api

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                request = HttpRequest(
                    self.command,
                    f"http://fake{self.path}",
                    tuple(self.headers.items()),
                    self.rfile.read(length),
                )
                response = api.send(request)
                self.send_response(response.status)
                for name, value in response.headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(response.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

            def log_message(self, *args):
                pass

        return Handler

    def __enter__(self) -> FakeApiServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()


PROFILE = """\
name: fake
variables:
  operator_key: OPERATOR-KEY
tenant:
  id: "t-{{actor}}-{{unique}}"
  request:
    method: POST
    path: /admin/tenants
    headers: {X-Operator-Key: "{{operator_key}}"}
    json: {id: "{{tenant.id}}"}
  expect: 201
token:
  request:
    method: POST
    path: "/admin/tenants/{{tenant.id}}/tokens"
    headers: {X-Operator-Key: "{{operator_key}}"}
    json: {user: "{{user}}"}
  token: body.token
auth: {header: Authorization, value: "Bearer {{token}}"}
audit:
  request:
    method: GET
    path: /admin/audit
    query: {request_id: "{{request_id}}"}
    headers: {X-Operator-Key: "{{operator_key}}"}
  records: body.records
  request_id_header: X-Request-ID
  wait_seconds: 0
volatile_headers: [X-Request-ID, Date]  # BaseHTTPServer stamps Date to the second
resources:
  agent:
    create:
      request:
        method: POST
        path: /v1/agents
        json: {name: "agent {{canary}}", description: "{{canary}}"}
      expect: 201
      id: body.id
    item: "/v1/agents/{{id}}"
    list: /v1/agents
""".replace("OPERATOR-KEY", OPERATOR_KEY)

READ_SCENARIO = """\
id: read-foreign-agent
title: The attacker reads the victim's agent
technique: A1
owasp: API1:2023
resource: agent
why: IDs are not secrets.
setup:
  - name: the victim creates an agent
    create: agent
    save: {theirs: id}
attack:
  - name: the attacker reads it
    request: {method: GET, endpoint: agent.item, id: "{{theirs}}"}
    expect:
      status: 404
      indistinguishable_from_missing: true
      audit: {event: cross_tenant_attempt}
"""
