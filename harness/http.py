"""Requests and responses as plain values, the transport seam, and curl lines.

The runner builds `HttpRequest` values and hands them to a `Transport`; the
real one sends them with `requests`, tests inject a hand-written one. Every
exchange is kept so that a finding can show what was sent and what came back.
"""

from __future__ import annotations

import json
import shlex
import string
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests

from harness.errors import TargetError

# Characters sent as they are in a path: RFC 3986 pchar, '/', '%' (so that a
# scenario can send its own percent-encoding) and '?' (a query typed in a path).
_PATH_SAFE = "/%:@!$&'()*+,;=-._~?"
_BODY_EXCERPT = 600


class HeaderMap(dict):
    """Response headers for templates and `save:`: names match in any case."""

    case_insensitive = True


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return _find_header(self.headers, name)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    reason: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return _find_header(self.headers, name)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON, or its text when it is not JSON."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return self.text

    def view(self) -> dict[str, Any]:
        """What templates and `save:` expressions read: status, headers, body."""
        headers = HeaderMap((name, value) for name, value in self.headers)
        return {"status": self.status, "headers": headers, "body": self.json()}


def _find_header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers if key.lower() == wanted), None)


@dataclass
class Exchange:
    """One request and its response, labelled with why it was sent."""

    kind: str  # provision, token, setup, attack, control, audit
    label: str
    actor: str
    request: HttpRequest
    response: HttpResponse
    notes: list[str] = field(default_factory=list)


class Transport(Protocol):
    def send(self, request: HttpRequest) -> HttpResponse: ...


class RequestsTransport:
    """Sends requests exactly as built: no redirects followed, no added headers."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._session = requests.Session()

    def send(self, request: HttpRequest) -> HttpResponse:
        prepared = requests.Request(
            request.method, request.url, headers=dict(request.headers)
        ).prepare()
        prepared.url = request.url
        prepared.body = request.body or None
        if request.body:
            prepared.headers["Content-Length"] = str(len(request.body))
        try:
            answer = self._session.send(
                prepared, allow_redirects=False, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise TargetError(
                f"cannot reach the target at {request.url}: {exc}\n  fix: start "
                "the target, or point --tg-base-url at it (`tenantguard run` "
                "starts the reference stack by itself)"
            ) from None
        return HttpResponse(
            answer.status_code,
            answer.reason or "",
            tuple((name, value) for name, value in answer.raw.headers.items()),
            answer.content,
        )

    def close(self) -> None:
        self._session.close()


def build_url(base_url: str, path: str, query: Any = None) -> str:
    """Join base and path, percent-encoding only what HTTP cannot carry."""
    encoded = urllib.parse.quote(path, safe=_PATH_SAFE)
    url = base_url.rstrip("/") + ("" if encoded.startswith("/") else "/") + encoded
    pairs = _query_pairs(query)
    if not pairs:
        return url
    return url + ("&" if "?" in url else "?") + urllib.parse.urlencode(pairs)


def _query_pairs(query: Any) -> list[tuple[str, str]]:
    if not query:
        return []
    items = query.items() if isinstance(query, Mapping) else query
    pairs = []
    for item in items:
        name, value = item[0], item[1]
        values = value if isinstance(value, list) else [value]
        pairs += [(str(name), _as_text(one)) for one in values]
    return pairs


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def curl(request: HttpRequest, secrets: Mapping[str, str] | None = None) -> str:
    """The request as a curl command; each secret is shown as its $PLACEHOLDER."""
    secrets = secrets or {}
    parts = ["curl", "-sS", "-i", "-X", request.method, _quote(request.url, secrets)]
    for name, value in request.headers:
        if name.lower() != "content-length":
            parts += ["-H", _quote(f"{name}: {value}", secrets)]
    if request.body:
        parts += ["--data-binary", _body_argument(request.body, secrets)]
    return " ".join(parts)


def _body_argument(body: bytes, secrets: Mapping[str, str]) -> str:
    try:
        return _quote(body.decode("utf-8"), secrets)
    except UnicodeDecodeError:
        return f"@body.bin  # {len(body)} bytes of binary data, not shown"


def _quote(text: str, secrets: Mapping[str, str]) -> str:
    """Shell-quote `text`, leaving each secret's placeholder for the shell to fill."""
    pieces = [text]
    for secret, placeholder in secrets.items():
        if secret:
            pieces = [
                part
                for piece in pieces
                for part in _split_keep(piece, secret, placeholder)
            ]
    return "".join(
        f'"{piece}"'
        if piece.startswith("$") and piece in secrets.values()
        else shlex.quote(piece)
        for piece in pieces
        if piece
    )


def _split_keep(piece: str, secret: str, placeholder: str) -> list[str]:
    if piece.startswith("$") or secret not in piece:
        return [piece]
    chunks = piece.split(secret)
    joined = [chunks[0]]
    for chunk in chunks[1:]:
        joined += [placeholder, chunk]
    return joined


def redact(text: str, secrets: Mapping[str, str]) -> str:
    for secret, placeholder in secrets.items():
        if secret:
            text = text.replace(secret, placeholder)
    return text


def describe_response(
    response: HttpResponse, secrets: Mapping[str, str] | None = None
) -> str:
    """Status line, headers and a body excerpt, as a finding shows them."""
    lines = [f"HTTP {response.status} {response.reason}".rstrip()]
    lines += [f"{name}: {value}" for name, value in response.headers]
    body = excerpt(response.body)
    if body:
        lines += ["", body]
    return redact("\n".join(lines), secrets or {})


def excerpt(body: bytes, limit: int = _BODY_EXCERPT) -> str:
    text = body.decode("utf-8", "replace")
    printable = "".join(
        char if char in string.printable or ord(char) > 127 else "?" for char in text
    )
    if len(printable) <= limit:
        return printable
    return printable[:limit] + f"... ({len(body)} bytes in all)"
