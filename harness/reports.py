"""Reports of one scenario run, all made from the JSON report's data.

    matrix_lines(report)   the technique-by-resource matrix for the terminal
    sarif(report)          SARIF 2.1.0: one rule per scenario, one result per
                           finding, located at the scenario file's line
    html(report)           one self-contained page (inline CSS, no script):
                           the matrix, the findings, errors and skips

Every function reads the plain dictionary that `report.json` holds, so a
report can be rendered again from the file alone.
"""

from __future__ import annotations

import hashlib
import html as markup
import urllib.parse
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from harness import techniques

SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
    "sarif-schema-2.1.0.json"
)
INFORMATION_URI = "https://github.com/tenantguard/tenantguard"
# A cell is the worst outcome among its items; no item at all: not covered.
STATES = ("breach", "error", "passed", "skipped")
NOT_COVERED = "not covered"
_SYMBOLS = {"breach": "X", "error": "E", "passed": ".", "skipped": "s"}
_SHORT = {
    "agent": "agent",
    "execution": "exec",
    "credential": "cred",
    "file": "file",
    "config": "conf",
    "audit": "audit",
    techniques.OTHER: "other",
}
COLUMNS = (*techniques.RESOURCES, techniques.OTHER)


# The matrix -------------------------------------------------------------------


def cells(items: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], Counter]:
    """(technique, resource column) -> how many items ended in each outcome."""
    found: dict[tuple[str, str], Counter] = {}
    for item in items:
        column = techniques.resource_column(item.get("resource", ""))
        for technique in item.get("techniques", ()):
            found.setdefault((technique, column), Counter())[item["outcome"]] += 1
    return found


def state(counts: Counter | None) -> str:
    if not counts:
        return NOT_COVERED
    return next(one for one in STATES if counts.get(one))


def matrix_lines(report: Mapping[str, Any], width: int = 44) -> list[str]:
    """The matrix as text: one row per technique, one column per resource."""
    found = cells(report["items"])
    head = (
        "technique".ljust(width)
        + " "
        + " ".join(_SHORT[column].rjust(5) for column in COLUMNS)
    )
    lines = [head, "-" * len(head)]
    for technique in techniques.all_techniques():
        label = f"{technique:<4} {techniques.title(technique)}"
        label = label if len(label) <= width else label[: width - 1] + "~"
        marks = " ".join(
            _SYMBOLS.get(state(found.get((technique, column))), "-").rjust(5)
            for column in COLUMNS
        )
        lines.append(label.ljust(width) + " " + marks)
    lines.append(
        "legend: . passed   X breach   E error   s skipped   - not covered "
        "(no item of this run)"
    )
    return lines


# SARIF 2.1.0 ----------------------------------------------------------------


def sarif(report: Mapping[str, Any]) -> dict[str, Any]:
    """The run as SARIF 2.1.0: one rule per scenario, one result per finding."""
    items = report["items"]
    root = Path(report.get("root") or Path.cwd())
    rules, index = _rules(items)
    results = [
        _result(item, finding, index[item["id"]], root)
        for item in items
        if item["outcome"] == "breach"
        for finding in item["findings"]
    ]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "tenantguard",
                "version": str(report.get("version", "0")),
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }
        },
        "automationDetails": {
            "id": f"tenantguard/{report['target'].get('profile')}/{report['seed']}"
        },
        "invocations": [_invocation(report, root)],
        "originalUriBaseIds": {"SRCROOT": {"uri": root.resolve().as_uri() + "/"}},
        "results": results,
        "properties": {
            "seed": report["seed"],
            "target": dict(report["target"]),
            "summary": dict(report["summary"]),
            "rerun": report.get("rerun", ""),
        },
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _rules(items) -> tuple[list[dict], dict[str, int]]:
    rules: list[dict] = []
    index: dict[str, int] = {}
    for item in items:
        if item["id"] in index:
            continue
        index[item["id"]] = len(rules)
        tags = [*item["techniques"], *item.get("owasp", ()), "security"]
        text = item["title"]
        rules.append(
            {
                "id": item["id"],
                "name": _pascal(item["id"]),
                "shortDescription": {"text": text},
                "fullDescription": {"text": item.get("description") or text},
                "help": {"text": _help(item)},
                "defaultConfiguration": {"level": "error"},
                "properties": {
                    "tags": tags,
                    "techniques": list(item["techniques"]),
                    "owasp": list(item.get("owasp", ())),
                    "technique_titles": [
                        techniques.title(one) for one in item["techniques"]
                    ],
                },
            }
        )
    return rules, index


def _pascal(identifier: str) -> str:
    return "".join(part.capitalize() for part in identifier.split("-"))


def _help(item: Mapping[str, Any]) -> str:
    parts = [item.get("why", ""), item.get("fix", "")]
    return " ".join(part for part in parts if part) or item["title"]


def _result(
    item: Mapping[str, Any], finding: Mapping[str, Any], index: int, root: Path
) -> dict:
    message = (
        f"{item['name']}: {finding['summary']} ({finding['check']}, "
        f"{finding['step']}).\nReproduce the request: {finding['curl']}\n"
        f"Re-run this item alone: {item.get('rerun', '')}"
    )
    fingerprint = hashlib.sha256(
        f"{item['nodeid']}|{finding['check']}|{finding['step']}".encode()
    ).hexdigest()
    return {
        "ruleId": item["id"],
        "ruleIndex": index,
        "kind": "fail",
        "level": "error",
        "message": {"text": message},
        "locations": [_location(item["file"], finding["line"], finding["step"], root)],
        "partialFingerprints": {"tenantguardItem/v1": fingerprint},
        "properties": {
            "item": item["nodeid"],
            "variant": item.get("variant", ""),
            "resource": item.get("resource", ""),
            "techniques": list(item["techniques"]),
            "check": finding["check"],
            "evidence": list(finding.get("evidence", ())),
            "curl": finding["curl"],
            "rerun": item.get("rerun", ""),
            "status": finding["response"]["status"],
            "why": finding.get("why", ""),
            "fix": finding.get("fix", ""),
        },
    }


def _location(file: str, line: int, step: str, root: Path) -> dict[str, Any]:
    """A scenario file's line, relative to SRCROOT (the run's root) when the
    file lies below it, else as an absolute file URI."""
    path = Path(file)
    if path.is_absolute():
        try:
            path = path.resolve().relative_to(root.resolve())
        except ValueError:
            artifact = {"uri": path.as_uri()}
        else:
            artifact = {"uri": _uri(path), "uriBaseId": "SRCROOT"}
    else:
        artifact = {"uri": _uri(path), "uriBaseId": "SRCROOT"}
    return {
        "physicalLocation": {
            "artifactLocation": artifact,
            "region": {"startLine": max(int(line or 1), 1)},
        },
        "message": {"text": step},
    }


def _uri(path: Path) -> str:
    return urllib.parse.quote(path.as_posix())


def _invocation(report: Mapping[str, Any], root: Path) -> dict[str, Any]:
    errors = [item for item in report["items"] if item["outcome"] == "error"]
    notifications = [
        {
            "level": "error",
            "message": {"text": f"{item['name']}: {first_line(item.get('error'))}"},
            "locations": [_location(item["file"], item["line"], item["name"], root)],
        }
        for item in errors
    ]
    return {
        "executionSuccessful": not errors,
        "commandLine": report.get("command", ""),
        "toolExecutionNotifications": notifications,
        "properties": {"seed": report["seed"]},
    }


def first_line(text: str | None) -> str:
    lines = [line for line in (text or "").splitlines() if line.strip()]
    first = lines[0].strip() if lines else "the item errored"
    return first.removeprefix("Skipped: ")


# HTML -------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;
color:#1d232b;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}
.meta{color:#4a5563;margin:0 0 12px}.meta code{background:#f1f3f6;padding:1px 4px}
table.matrix{border-collapse:collapse;font-size:12.5px}
.matrix th,.matrix td{border:1px solid #d5dae1;padding:3px 7px;text-align:center}
.matrix td.t{text-align:left;white-space:nowrap;max-width:420px;overflow:hidden;
text-overflow:ellipsis}
.matrix tr.g th{background:#e9edf2;text-align:left}
.passed{background:#d9f2df;color:#14532d}.breach{background:#f8c9c9;color:#7f1d1d;
font-weight:700}.error{background:#fde5b4;color:#7c4a03}.skipped{background:#eceff3;
color:#475467}.nc{background:#fff;color:#a0a8b4}
.counts span{display:inline-block;margin-right:12px;padding:2px 8px;border-radius:3px}
.finding{border:1px solid #e2b4b4;border-left:5px solid #b42318;padding:8px 12px;
margin:10px 0;background:#fffafa}
.finding h3{font-size:15px;margin:0 0 4px}
pre{background:#f6f8fa;border:1px solid #e3e7ec;padding:8px;overflow-x:auto;
white-space:pre-wrap;word-break:break-all;font-size:12px}
ul.plain{margin:4px 0;padding-left:18px}
.small{font-size:12px;color:#4a5563}
"""


def html(report: Mapping[str, Any]) -> str:
    """A self-contained page: no script, no external asset, readable as a file."""
    items = report["items"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>tenantguard report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>tenantguard: cross-tenant attack report</h1>",
        _html_meta(report),
        _html_counts(report["summary"]),
        "<h2>Techniques by resource</h2>",
        _html_matrix(items),
        _html_findings(items),
        _html_listing(items, "error", "Errors (the target misbehaved; not findings)"),
        _html_listing(items, "skipped", "Skipped (the scenario does not apply)"),
        "</body></html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def _e(value: Any) -> str:
    return markup.escape(str(value), quote=True)


def _html_meta(report: Mapping[str, Any]) -> str:
    target = report["target"]
    rows = [
        ("target", f"{target.get('profile')} at {target.get('base_url') or '?'}"),
        ("seed", report["seed"]),
        ("command", report.get("command", "")),
        ("re-run one item", report.get("rerun", "")),
    ]
    return "".join(
        f'<p class="meta">{_e(name)}: <code>{_e(value)}</code></p>'
        for name, value in rows
        if value != ""
    )


def _html_counts(summary: Mapping[str, int]) -> str:
    spans = "".join(
        f'<span class="{_e(name) if count else "nc"}">{_e(count)} {_e(name)}</span>'
        for name, count in summary.items()
    )
    return f'<p class="counts">{spans}</p>'


def _html_matrix(items) -> str:
    found = cells(items)
    head = "".join(f"<th>{_e(column)}</th>" for column in COLUMNS)
    rows = [f'<table class="matrix"><tr><th>technique</th>{head}</tr>']
    for group in techniques.GROUPS:
        rows.append(
            f'<tr class="g"><th colspan="{len(COLUMNS) + 1}">{_e(group.letter)}. '
            f"{_e(group.title)} ({_e(group.owasp)})</th></tr>"
        )
        for number in group.numbers:
            technique = f"{group.letter}{number}"
            tds = "".join(
                _html_cell(found.get((technique, column))) for column in COLUMNS
            )
            label = f"{technique} {techniques.title(technique)}"
            rows.append(
                f'<tr><td class="t" title="{_e(label)}">{_e(label)}</td>{tds}</tr>'
            )
    rows.append("</table>")
    legend = "".join(
        f'<span class="{css}">{_e(text)}</span> '
        for css, text in (
            ("passed", "pass"),
            ("breach", "breach"),
            ("error", "error"),
            ("skipped", "skipped"),
            ("nc", "not covered"),
        )
    )
    rows.append(f'<p class="counts small">cells: {legend}</p>')
    return "\n".join(rows)


def _html_cell(counts: Counter | None) -> str:
    kind = state(counts)
    if kind == NOT_COVERED:
        return '<td class="nc" title="not covered">&middot;</td>'
    detail = ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
    word = {"passed": "pass"}.get(kind, kind)
    return f'<td class="{kind}" title="{_e(detail)}">{_e(word)} {sum(counts.values())}</td>'


def _html_findings(items) -> str:
    breached = [item for item in items if item["outcome"] == "breach"]
    if not breached:
        return "<h2>Findings</h2><p>No finding: every attack was refused.</p>"
    parts = [f"<h2>Findings ({len(breached)} items)</h2>"]
    for item in breached:
        parts.append(_html_finding(item))
    return "\n".join(parts)


def _html_finding(item: Mapping[str, Any]) -> str:
    tags = " | ".join(
        part
        for part in (*item["techniques"], *item.get("owasp", ()), item["resource"])
        if part
    )
    parts = [
        '<div class="finding">',
        f"<h3>BREACH {_e(item['name'])} <span class='small'>({_e(tags)})</span></h3>",
        f'<p class="small">{_e(item["title"])} &mdash; {_e(item["file"])}:'
        f"{_e(item['line'])}</p>",
    ]
    for finding in item["findings"]:
        evidence = "".join(f"<li>{_e(one)}</li>" for one in finding.get("evidence", ()))
        response = finding["response"]
        parts += [
            f"<p><b>{_e(finding['check'])}</b> (line {_e(finding['line'])}, "
            f"{_e(finding['step'])}): {_e(finding['summary'])}</p>",
            f'<ul class="plain">{evidence}</ul>' if evidence else "",
            f"<pre>{_e(finding['curl'])}</pre>",
            f"<pre>HTTP {_e(response['status'])}\n{_e(_headers(response))}\n\n"
            f"{_e(response.get('body', ''))}</pre>",
            f"<p class='small'>Why: {_e(finding.get('why', ''))}<br>"
            f"Fix: {_e(finding.get('fix', ''))}</p>",
        ]
    parts += [
        f'<p class="small">Re-run alone: <code>{_e(item.get("rerun", ""))}</code></p>',
        "</div>",
    ]
    return "\n".join(part for part in parts if part)


def _headers(response: Mapping[str, Any]) -> str:
    return "\n".join(f"{name}: {value}" for name, value in response.get("headers", ()))


def _html_listing(items, outcome: str, title: str) -> str:
    chosen = [item for item in items if item["outcome"] == outcome]
    if not chosen:
        return ""
    rows = "".join(
        f"<li><b>{_e(item['name'])}</b>: {_e(first_line(item.get('error')))}</li>"
        for item in chosen
    )
    return f"<h2>{_e(title)} ({len(chosen)})</h2><ul class='plain small'>{rows}</ul>"
