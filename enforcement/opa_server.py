"""A policy engine that asks a real OPA server over its REST Data API."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from enforcement.decision import Decision, engine_denial
from enforcement.errors import EngineError, UsageError

log = logging.getLogger("tenantguard.enforcement")

DEFAULT_TIMEOUT = (0.5, 2.0)  # (connect, read) seconds


class OpaServer:
    """Decisions from `POST {url}/v1/data/{entry_point}` on a pooled session.

    Every failure to get a well-formed decision is a denial (status 503)
    whose reason code says which failure it was; `decide` never raises.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        token: str | None = None,
        pool_size: int = 16,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise UsageError(
                f"OPA URL must start with http:// or https://, got {url!r}"
            )
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"

    def __repr__(self) -> str:
        return f"OpaServer({self.url!r})"

    def __enter__(self) -> OpaServer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def decide(self, entry_point: str, input: Mapping[str, Any]) -> Decision:
        try:
            body = json.dumps({"input": input}, allow_nan=False)
        except (TypeError, ValueError) as exc:
            log.warning("decision input is not JSON for %s: %s", entry_point, exc)
            return engine_denial("engine_error")

        decision = self._post(entry_point, body)
        log.debug("%s -> %s %s", entry_point, decision.status, decision.reason.code)
        return decision

    def _post(self, entry_point: str, body: str) -> Decision:
        try:
            response = self._session.post(
                f"{self.url}/v1/data/{entry_point}",
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=self.timeout,
            )
        except requests.Timeout:
            log.warning("OPA at %s timed out on %s", self.url, entry_point)
            return engine_denial("engine_timeout")
        except requests.RequestException as exc:
            log.warning("OPA at %s unreachable on %s: %s", self.url, entry_point, exc)
            return engine_denial("engine_unavailable")
        return _decision_from_response(response, entry_point)

    def put_data(self, path: str, value: Any) -> None:
        try:
            response = self._session.put(
                f"{self.url}/v1/data/{path.strip('/')}",
                data=json.dumps(value, allow_nan=False),
                headers={"Content-Type": "application/json"},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise EngineError(f"could not write data/{path} to OPA: {exc}") from exc
        if response.status_code != 204:
            raise EngineError(
                f"OPA refused data/{path}: HTTP {response.status_code} {response.text[:200]!r}"
            )

    def is_healthy(self) -> bool:
        try:
            response = self._session.get(f"{self.url}/health", timeout=self.timeout)
        except requests.RequestException:
            return False
        return response.status_code == 200

    def close(self) -> None:
        self._session.close()


def _decision_from_response(response: requests.Response, entry_point: str) -> Decision:
    if response.status_code != 200:
        log.warning("OPA answered HTTP %s on %s", response.status_code, entry_point)
        return engine_denial("engine_http_error")
    try:
        document = response.json()
    except ValueError:
        log.warning("OPA answered a body that is not JSON on %s", entry_point)
        return engine_denial("engine_malformed")
    if not isinstance(document, dict):
        return engine_denial("engine_malformed")
    if "result" not in document:
        log.warning("OPA has no decision (undefined) for %s", entry_point)
        return engine_denial("engine_undefined")
    try:
        return Decision.from_result(document["result"])
    except ValueError as exc:
        log.warning("OPA decision for %s has the wrong shape: %s", entry_point, exc)
        return engine_denial("engine_malformed")
