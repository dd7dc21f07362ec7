"""Findings as a security engineer reads them, without a Python traceback.

A failed item shows: the scenario and its YAML file:line, the step, the
offending request as a curl line (tokens as $ATTACKER_TOKEN), what came back,
each failed check, and one paragraph on why that is a breach and what to fix.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.checks import Finding
from harness.http import Exchange, curl, describe_response, excerpt, redact
from harness.scenario import Scenario, Variant

WIDTH = 88


def shown_path(path: object) -> str:
    """`path` relative to the working directory when it lies below it."""
    try:
        return str(Path(str(path)).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def item_name(scenario: Scenario, variant: Variant) -> str:
    return f"{scenario.id}[{variant.label}]" if variant.label else scenario.id


def tags(scenario: Scenario, variant: Variant) -> str:
    parts = [*scenario.techniques, *scenario.owasp, scenario.resource_of(variant)]
    return " | ".join(part for part in parts if part)


def render(
    scenario: Scenario,
    variant: Variant,
    findings: Sequence[Finding],
    secrets: Mapping[str, str],
    rerun: str = "",
) -> str:
    """The text of a failed item: where, what was sent, what came back, why,
    and the command that runs this item alone again."""
    findings = sorted(findings, key=severity)
    step = findings[0].step
    lines = [
        f"BREACH {item_name(scenario, variant)}  ({tags(scenario, variant)})",
        f"scenario: {shown_path(scenario.path)}:{scenario.line}  {scenario.title}",
        f"step:     {step.label} as the {step.actor}",
        *([f"re-run:   {rerun}"] if rerun else []),
        "",
        *_exchange_lines("request", findings[0].exchange, secrets),
    ]
    for finding in findings:
        lines += _finding_lines(finding, secrets)
    lines += ["", *_paragraph(scenario, findings)]
    return "\n".join(lines)


def _exchange_lines(
    title: str, exchange: Exchange, secrets: Mapping[str, str]
) -> list[str]:
    lines = [f"{title}:", f"    {curl(exchange.request, secrets)}"]
    lines += [f"    # {note}" for note in exchange.notes]
    lines += ["response:", _indent(describe_response(exchange.response, secrets))]
    return lines


def _finding_lines(finding: Finding, secrets: Mapping[str, str]) -> list[str]:
    key = _KEYS.get(finding.check, finding.check)
    lines = [f"FAILED {key} (line {finding.line}): {finding.summary}"]
    lines += [f"    - {item}" for item in finding.evidence]
    if finding.control is not None:
        lines += ["control, the same request for an ID that does not exist:"]
        lines += [
            _indent(line, "  ")
            for line in _exchange_lines("request", finding.control, secrets)
        ]
    return lines


_KEYS = {
    "status": "expect.status",
    "no_2xx": "expect.no_2xx",
    "no_canary": "expect.no_canary (on by default for attacker steps)",
    "absent": "expect.absent",
    "fields": "expect.fields",
    "close_to": "expect.close_to",
    "indistinguishable": "expect.indistinguishable_from_missing",
    "audit": "expect.audit",
    "succeeded": "expect.succeeded",
}


_SEVERITY = ("no_canary", "served", "fields", "close_to", "absent", "succeeded")
_SEVERITY += ("status",)
_SEVERITY += ("no_2xx", "indistinguishable", "audit")


def severity(finding: Finding) -> int:
    """Data that left the victim's tenant first, missing evidence last."""
    status = finding.exchange.response.status
    served = finding.check in ("status", "no_2xx") and 200 <= status < 300
    return _SEVERITY.index("served" if served else finding.check)


def _paragraph(scenario: Scenario, findings: Sequence[Finding]) -> list[str]:
    """One paragraph: why the worst finding is a breach, and what to fix."""
    worst = findings[0]
    why = " ".join(part for part in (worst.why, scenario.why) if part)
    text = f"Why this is a breach: {why} What to fix: {scenario.fix or worst.fix}"
    return textwrap.wrap(text, WIDTH)


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def as_dict(finding: Finding, secrets: Mapping[str, str]) -> dict[str, Any]:
    """A finding for the JSON report."""
    return {
        "check": _KEYS.get(finding.check, finding.check).split(" ")[0],
        "line": finding.line,
        "step": finding.step.label,
        "summary": finding.summary,
        "evidence": list(finding.evidence),
        "why": finding.why,
        "fix": finding.fix,
        "curl": curl(finding.exchange.request, secrets),
        "response": exchange_dict(finding.exchange, secrets)["response"],
        "control": exchange_dict(finding.control, secrets) if finding.control else None,
    }


def exchange_dict(exchange: Exchange, secrets: Mapping[str, str]) -> dict[str, Any]:
    response = exchange.response
    return {
        "kind": exchange.kind,
        "label": exchange.label,
        "actor": exchange.actor,
        "curl": curl(exchange.request, secrets),
        "notes": list(exchange.notes),
        "response": {
            "status": response.status,
            "headers": [
                [name, redact(value, secrets)] for name, value in response.headers
            ],
            "body": redact(excerpt(response.body, 2000), secrets),
        },
    }
