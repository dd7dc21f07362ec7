"""A policy engine that evaluates the Rego files in-process with regopy.

For a first run on a machine without an OPA server. The same files and the
same data give the same decisions as OPA (a differential test holds it to
that). The policy is compiled once into a bundle; each decision only sets the
input and evaluates one entry point.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import regopy

from enforcement.decision import ENTRY_POINTS, Decision, engine_denial
from enforcement.errors import EngineError, UsageError

log = logging.getLogger("tenantguard.enforcement")


def policy_modules(policy_dir: Path) -> dict[str, str]:
    """Every `.rego` file under `policy_dir` except tests, keyed by relative path."""
    policy_dir = Path(policy_dir)
    if not policy_dir.is_dir():
        raise UsageError(f"policy directory {str(policy_dir)!r} does not exist")
    modules = {
        str(path.relative_to(policy_dir)): path.read_text(encoding="utf-8")
        for path in sorted(policy_dir.rglob("*.rego"))
        if not path.name.endswith("_test.rego")
    }
    if not modules:
        raise UsageError(f"no .rego files under {str(policy_dir)!r}")
    return modules


class Embedded:
    """Decisions from regopy, compiled once, guarded by a lock (regopy is not
    thread-safe)."""

    def __init__(
        self,
        policy_dir: Path,
        data: Mapping[str, Any] | None = None,
        *,
        entry_points: tuple[str, ...] = ENTRY_POINTS,
    ) -> None:
        self._modules = policy_modules(policy_dir)
        self._data: dict[str, Any] = copy.deepcopy(dict(data or {}))
        self._entry_points = entry_points
        self._lock = threading.Lock()
        self._interpreter, self._bundle = self._compile()

    def __repr__(self) -> str:
        return f"Embedded({len(self._modules)} modules)"

    def _compile(self) -> tuple[regopy.Interpreter, regopy.Bundle]:
        interpreter = regopy.Interpreter()
        try:
            for name, source in self._modules.items():
                interpreter.add_module(name, source)
            interpreter.add_data_json(json.dumps(self._data))
            bundle = interpreter.build(None, list(self._entry_points))
        except (regopy.RegoError, ValueError) as exc:
            raise EngineError(f"regopy could not compile the policies: {exc}") from exc
        if not bundle.ok():
            raise EngineError(f"regopy could not compile the policies: {bundle.node()}")
        return interpreter, bundle

    def decide(self, entry_point: str, input: Mapping[str, Any]) -> Decision:
        if entry_point not in self._entry_points:
            log.warning("embedded engine has no entry point %s", entry_point)
            return engine_denial("engine_undefined")
        try:
            term = json.dumps(input, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            log.warning("decision input is not JSON for %s: %s", entry_point, exc)
            return engine_denial("engine_error")

        with self._lock:
            output = self._evaluate(entry_point, term)
        return _decision_from_output(output, entry_point)

    def _evaluate(self, entry_point: str, term: str) -> str | None:
        try:
            self._interpreter.set_input_term(term)
            output = self._interpreter.query_bundle_entrypoint(
                self._bundle, entry_point
            )
        except (regopy.RegoError, ValueError) as exc:
            # ValueError: regopy's wrapper parses its core's output as JSON, and
            # that output is not JSON after arithmetic on floats near 1e-308.
            log.warning("regopy failed on %s: %r", entry_point, exc)
            return None
        return str(output) if output.ok() else None

    def put_data(self, path: str, value: Any) -> None:
        keys = [key for key in path.strip("/").split("/") if key]
        if not keys:
            raise UsageError("put_data needs a non-empty path such as 'tenants/acme'")
        with self._lock:
            data = copy.deepcopy(self._data)
            node = data
            for key in keys[:-1]:
                node = node.setdefault(key, {})
            node[keys[-1]] = copy.deepcopy(value)
            self._data = data
            self._interpreter, self._bundle = self._compile()

    def close(self) -> None:
        """Nothing to release; present for the PolicyEngine protocol."""


def _decision_from_output(output: str | None, entry_point: str) -> Decision:
    if output is None:
        return engine_denial("engine_error")
    if output == "undefined":
        log.warning("embedded engine has no decision (undefined) for %s", entry_point)
        return engine_denial("engine_undefined")
    try:
        result = json.loads(output)["expressions"][0]
        return Decision.from_result(result)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        log.warning(
            "embedded decision for %s has the wrong shape: %s", entry_point, exc
        )
        return engine_denial("engine_malformed")
