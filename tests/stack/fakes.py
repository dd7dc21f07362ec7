"""Hand-written policy engines, injected into the app in place of the real one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from enforcement import Decision, PolicyEngine, Reason
from enforcement.decision import engine_denial

ALLOW = Decision(True, 200, Reason("allowed", "allow", "allowed"))


class FixedAnswerEngine:
    """Gives one decision to every question, and remembers the questions."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        self.questions: list[tuple[str, Mapping[str, Any]]] = []
        self.data: dict[str, Any] = {}

    def decide(self, entry_point: str, input: Mapping[str, Any]) -> Decision:
        self.questions.append((entry_point, input))
        return self.decision

    def put_data(self, path: str, value: Any) -> None:
        self.data[path] = value

    def close(self) -> None:
        pass


def unreachable_engine() -> FixedAnswerEngine:
    """An engine that can never be reached: every decision is a 503 denial."""
    return FixedAnswerEngine(engine_denial("engine_unavailable"))


class OutageEngine:
    """A real engine that goes down when told to (fail-closed answers after)."""

    def __init__(self, engine: PolicyEngine) -> None:
        self.engine = engine
        self.down = False

    def decide(self, entry_point: str, input: Mapping[str, Any]) -> Decision:
        if self.down:
            return engine_denial("engine_unavailable")
        return self.engine.decide(entry_point, input)

    def put_data(self, path: str, value: Any) -> None:
        self.engine.put_data(path, value)

    def close(self) -> None:
        self.engine.close()


class BuggyEngine(FixedAnswerEngine):
    """Breaks the protocol by raising: stands for a genuine bug in the stack."""

    def decide(self, entry_point: str, input: Mapping[str, Any]) -> Decision:
        raise RuntimeError("a bug, with a secret-looking detail: s3cr3t")
