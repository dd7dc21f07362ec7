"""A counterexample as people use it: a Rego test case to paste beside the
policy's own tests, and an `opa eval` command that shows the decision.

Both carry the slice of tenant data the input names, so they reproduce the
decision without the checker's data document.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from enforcement import Decision
from harness.invariants.contract import (
    DOCUMENTED,
    ENGINE_RAISED,
    Case,
    Code,
    Denied,
    SameAs,
)

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Counterexample:
    """The smallest input hypothesis found that breaks one invariant."""

    invariant: str
    promise: str
    entry_point: str
    case: Case
    decision: Decision
    problems: tuple[str, ...]
    tenants: dict[str, Any]
    tenants_data: str
    policy_dir: Path
    seed: int

    def explain(self) -> str:
        """One paragraph a security engineer can act on, then the test and
        the command."""
        lines = [
            f"{self.entry_point} answered {_decision_text(self.decision)} for:",
            f"    {rego_value(self.case.input)}",
            *(f"  - {problem}" for problem in self.problems),
            f"  Rego test ({self._test_note()}; paste it beside their tests):",
            _indent(rego_test(self), "    "),
            "  Reproduce:",
            _indent(opa_eval(self), "    "),
        ]
        return "\n".join(lines)

    def _test_note(self) -> str:
        if any(problem.startswith(ENGINE_RAISED) for problem in self.problems):
            return "the engine raised: if it passes on OPA, the fault is the engine's"
        return "fails on these policies"


def rego_test(example: Counterexample) -> str:
    """A Rego v1 test rule that holds on correct policies and fails here."""
    ref, tenants = (
        rego_ref(example.entry_point),
        rego_ref(example.tenants_data.replace(".", "/")),
    )
    body = [f"tenants := {rego_value(example.tenants)}"]
    body.append(f"decision := {ref} with input as {rego_value(example.case.input)}")
    body.append(f"\twith {tenants} as tenants")
    for expect in _compared(example):
        body.append(
            f"{_name(expect)} := {ref} with input as {rego_value(expect.input)}"
        )
        body.append(f"\twith {tenants} as tenants")
    body += _assertions(example.case.expect)
    header = [
        f"# {example.invariant}: {example.promise}.",
        f"# Counterexample from `tenantguard policy check --seed {example.seed}`.",
    ]
    rule = [
        f"test_{example.invariant}_counterexample if {{",
        *(f"\t{line}" for line in body),
        "}",
    ]
    return "\n".join([*header, *rule])


def rego_file(
    examples: list[Counterexample], package: str = "tenantguard.invariants_test"
) -> str:
    return (
        "\n\n".join(
            [f"package {package}", *(rego_test(example) for example in examples)]
        )
        + "\n"
    )


def opa_eval(example: Counterexample) -> str:
    """A shell command that prints the decision (and any it is compared
    with); the inputs and the tenant data come on stdin."""
    ref, tenants = (
        rego_ref(example.entry_point),
        rego_ref(example.tenants_data.replace(".", "/")),
    )
    documents = {"request": example.case.input}
    documents.update({_name(expect): expect.input for expect in _compared(example)})
    queries = [
        f"{'decision' if name == 'request' else name} := {ref} "
        f"with input as input.{name} with {tenants} as input.tenants"
        for name in documents
    ]
    command = (
        f"opa eval --format pretty --data {shlex.quote(str(example.policy_dir))} "
        f"--stdin-input {shlex.quote('; '.join(queries))} <<'JSON'"
    )
    lines = [f'  "{name}": {json.dumps(value)}' for name, value in documents.items()]
    lines.append(f'  "tenants": {json.dumps(example.tenants)}')
    return "\n".join([command, "{", ",\n".join(lines), "}", "JSON"])


def _compared(example: Counterexample) -> list[SameAs]:
    return [expect for expect in example.case.expect if isinstance(expect, SameAs)]


def rego_ref(entry_point: str) -> str:
    """`tenantguard/access/decision` as `data.tenantguard.access.decision`."""
    parts = entry_point.strip("/").split("/")
    return "data" + "".join(
        f".{p}" if IDENTIFIER.match(p) else f"[{json.dumps(p)}]" for p in parts
    )


def rego_value(value: Any) -> str:
    """`value` as a Rego term: JSON, with every character outside printable
    ASCII in the Basic Multilingual Plane written as a \\u escape."""
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return "".join(f"\\u{ord(c):04x}" if 0x7F <= ord(c) <= 0xFFFF else c for c in text)


def _name(expect: SameAs) -> str:
    return re.sub(r"\W", "_", expect.label.split(" ")[0])


def _assertions(expectations: tuple) -> list[str]:
    lines = [
        'object.keys(decision) == {"allow", "status", "reason"}',
        'object.keys(decision.reason) == {"code", "category", "message"}',
    ]
    codes = [expect.code for expect in expectations if isinstance(expect, Code)]
    for code in dict.fromkeys(codes):
        status, category = DOCUMENTED[code]
        lines += [
            f"decision.allow == {str(code == 'allowed').lower()}",
            f"decision.status == {status}",
            f'decision.reason.code == "{code}"',
            f'decision.reason.category == "{category}"',
        ]
    if not codes and any(isinstance(expect, Denied) for expect in expectations):
        lines.append("decision.allow == false")
    if not codes:
        lines.append(_documented_row())
    lines += [f"decision == {_name(e)}" for e in expectations if isinstance(e, SameAs)]
    return lines


def _documented_row() -> str:
    rows = ", ".join(
        f'["{code}", {status}, "{category}", {str(code == "allowed").lower()}]'
        for code, (status, category) in DOCUMENTED.items()
    )
    return (
        "[decision.reason.code, decision.status, decision.reason.category, "
        f"decision.allow] in {{{rows}}}"
    )


def _decision_text(decision: Decision) -> str:
    return json.dumps(decision.as_dict(), ensure_ascii=False)


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())
