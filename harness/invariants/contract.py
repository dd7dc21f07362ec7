"""The documented decision (policies/README.md) and what a generated case
expects of the decision it gets.

A case carries its expectations, each with the reason it must hold; checking
a case is one decision (two for a comparison) and no re-implementation of a
rule: the expectations come from how the input was built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from enforcement import Decision, PolicyEngine
from enforcement.decision import engine_denial

# The reason codes of policies/README.md: code -> (status, category).
DOCUMENTED = {
    "allowed": (200, "allow"),
    "subject_invalid": (401, "input"),
    "request_invalid": (400, "input"),
    "not_found": (404, "isolation"),
    "role_forbidden": (403, "role"),
    "tenant_unconfigured": (403, "input"),
    "limit_exceeded": (429, "limit"),
    "feature_disabled": (403, "feature"),
    "storage_path_invalid": (400, "storage"),
}

# Engine codes that say nothing about the policy: the run stops instead.
UNREACHABLE = frozenset({"engine_unavailable", "engine_timeout"})

MAX_COUNT = 2**53 - 1
ENGINE_RAISED = "the engine raised"


class EngineDown(Exception):
    """The engine could not be asked; no verdict on the policy is possible."""


class EngineRaised(Exception):
    """engine.decide raised instead of returning a (fail-closed) decision."""

    def problem(self) -> str:
        cause = self.args[0]
        return (
            f"{ENGINE_RAISED} {type(cause).__name__}: {cause} instead of deciding; "
            "decide must never raise (it must deny, fail closed)"
        )


@dataclass(frozen=True)
class Code:
    """The decision is the documented one for `code`."""

    code: str
    why: str

    def problem(self, decision: Decision, ask) -> str | None:
        if decision.reason.code == self.code:
            return None
        return f"expected {self.code}, because {self.why}"


@dataclass(frozen=True)
class Denied:
    """Whatever the reason, the decision does not allow."""

    why: str

    def problem(self, decision: Decision, ask) -> str | None:
        if not decision.allow:
            return None
        return f"expected a denial, because {self.why}"


@dataclass(frozen=True)
class SameAs:
    """The decision equals the one for another input (`label` names it)."""

    input: Mapping[str, Any]
    label: str
    why: str

    def problem(self, decision: Decision, ask) -> str | None:
        other = ask(self.input)
        if other == decision:
            return None
        return (
            f"the {self.label} input got {describe(other)}; they must be equal, "
            f"because {self.why}"
        )


@dataclass(frozen=True)
class Case:
    """One generated decision input and what its decision must satisfy."""

    family: str
    input: dict
    expect: tuple = ()


def shape_problem(decision: Decision) -> str | None:
    """Why `decision` is not of the documented shape, or None."""
    code = decision.reason.code
    if code.startswith("engine_"):
        return (
            f"no decision of the documented shape ({code}: {decision.reason.message})"
        )
    if code not in DOCUMENTED:
        return f"reason code {code!r} is not a documented code"
    status, category = DOCUMENTED[code]
    if (decision.status, decision.reason.category) != (status, category):
        return (
            f"{code} must have status {status} and category {category!r}, not "
            f"{decision.status} and {decision.reason.category!r}"
        )
    if decision.allow != (code == "allowed"):
        return f"allow is {decision.allow} with reason code {code}"
    return None if decision.reason.message else f"{code} has an empty message"


def problems(case: Case, ask) -> tuple[Decision, list[str]]:
    """The decision `ask` gives for `case`, and everything wrong with it."""
    try:
        decision = ask(case.input)
        found = [shape_problem(decision)]
        found += [expect.problem(decision, ask) for expect in case.expect]
    except EngineRaised as exc:
        return engine_denial("engine_error"), [exc.problem()]
    return decision, [problem for problem in found if problem]


def asker(engine: PolicyEngine, entry_point: str, tally):
    """A function input -> decision on `entry_point` that counts decisions and
    raises EngineDown when the engine itself cannot be reached."""

    def ask(input: Mapping[str, Any]) -> Decision:
        tally.decisions += 1
        try:
            decision = engine.decide(entry_point, input)
        except Exception as exc:  # noqa: BLE001 - any exception breaks the contract
            raise EngineRaised(exc) from exc
        if decision.reason.code in UNREACHABLE:
            raise EngineDown(f"{decision.reason.code}: {decision.reason.message}")
        return decision

    return ask


def describe(decision: Decision) -> str:
    return (
        f"{decision.reason.code} (allow={str(decision.allow).lower()}, "
        f"status {decision.status})"
    )


def is_count(value: Any) -> bool:
    """A whole number from 0 to 2^53 - 1, as limits.rego defines usage."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return 0 <= value <= MAX_COUNT and float(value).is_integer()
