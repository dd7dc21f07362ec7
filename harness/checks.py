"""The checks an attack step's `expect:` asks for, as pure functions.

Each check looks at one exchange (and, for the comparison with a missing ID,
its control exchange) and returns findings: what was wrong, and a paragraph
on why that is a breach. Sending requests is the runner's job, not theirs.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.http import Exchange, HttpRequest, HttpResponse
from harness.scenario import Step
from harness.template import Canary


@dataclass
class Finding:
    check: str
    step: Step
    line: int
    summary: str
    why: str
    fix: str
    exchange: Exchange
    control: Exchange | None = None
    evidence: list[str] = field(default_factory=list)


def status_matches(status: int, wanted: int | str) -> bool:
    if isinstance(wanted, int):
        return status == wanted
    return str(status)[0] == wanted[0]


def _show_wanted(wanted: Iterable[int | str]) -> str:
    return " or ".join(str(one) for one in wanted)


def _finding(
    step: Step, exchange: Exchange, check: str, summary: str, **rest
) -> Finding:
    why, fix = _explain(check, step, exchange.response.status, rest.pop("context", {}))
    return Finding(
        check=check,
        step=step,
        line=step.expect.line(_CHECK_KEYS.get(check, check), step.line),
        summary=summary,
        why=rest.pop("why", why),
        fix=rest.pop("fix", fix),
        exchange=exchange,
        **rest,
    )


_CHECK_KEYS = {"indistinguishable": "indistinguishable_from_missing"}


def check_status(step: Step, exchange: Exchange) -> list[Finding]:
    wanted = step.expect.status
    status = exchange.response.status
    if not wanted or any(status_matches(status, one) for one in wanted):
        return []
    return [
        _finding(
            step,
            exchange,
            "status",
            f"expected status {_show_wanted(wanted)}, got {status}",
            context={"wanted": wanted},
        )
    ]


def check_no_2xx(step: Step, exchange: Exchange) -> list[Finding]:
    status = exchange.response.status
    if not step.expect.no_2xx or not 200 <= status < 300:
        return []
    return [_finding(step, exchange, "no_2xx", f"expected no 2xx answer, got {status}")]


def check_no_canary(
    step: Step, exchange: Exchange, canaries: Iterable[Canary], tenant: str
) -> list[Finding]:
    """No victim canary (nor the victim's tenant ID) in the response, unless the
    attacker sent that very value itself (an echo of its own input is no leak)."""
    if not step.expect.no_canary:
        return []
    sent = _sent_text(exchange.request)
    planted = [(canary.value, f"planted in {canary.where}") for canary in canaries]
    planted.append((tenant, "the victim's tenant ID"))
    evidence = [
        f"{value} ({origin}) found in {where}"
        for value, origin in planted
        if value and value not in sent
        for where in _found_in(exchange.response, value)
    ]
    if not evidence:
        return []
    return [
        _finding(
            step,
            exchange,
            "no_canary",
            f"the response carries {len(evidence)} value(s) planted by the victim",
            evidence=evidence,
        )
    ]


def _sent_text(request: HttpRequest) -> str:
    url = request.url + " " + urllib.parse.unquote(request.url)
    headers = " ".join(value for _, value in request.headers)
    return " ".join((url, headers, request.body.decode("utf-8", "replace")))


def _found_in(response: HttpResponse, value: str) -> list[str]:
    places = [f"header {name}" for name, text in response.headers if value in text]
    body = response.text
    at = body.find(value)
    if at >= 0:
        start = max(at - 30, 0)
        places.append(f"the body: ...{body[start : at + len(value) + 30]}...")
    return places


def check_absent(
    step: Step, exchange: Exchange, values: Iterable[Any]
) -> list[Finding]:
    text = exchange.response.text + " ".join(v for _, v in exchange.response.headers)
    present = [str(value) for value in values if str(value) and str(value) in text]
    if not present:
        return []
    return [
        _finding(
            step,
            exchange,
            "absent",
            f"the response contains {', '.join(present)}, which must not appear",
            evidence=[
                f"{value} found in {', '.join(_found_in(exchange.response, value))}"
                for value in present
            ],
        )
    ]


def check_fields(
    step: Step, exchange: Exchange, actual: Mapping[str, Any], wanted: Mapping[str, Any]
) -> list[Finding]:
    wrong = [
        f"{path}: expected {wanted[path]!r}, found {actual[path]!r}"
        for path in wanted
        if actual.get(path) != wanted[path]
    ]
    if not wrong:
        return []
    return [
        _finding(
            step,
            exchange,
            "fields",
            "the response does not hold the expected values",
            evidence=wrong,
        )
    ]


def check_close_to(
    step: Step, exchange: Exchange, actual: Mapping[str, Any], wanted: Mapping[str, Any]
) -> list[Finding]:
    """Each path holds a number within `tolerance` of `value` ([value, tolerance])."""
    wrong = []
    for path, (value, tolerance, *_) in wanted.items():
        found = _number(actual.get(path))
        if found is None or abs(found - float(value)) > float(tolerance):
            wrong.append(
                f"{path}: expected {value} (give or take {tolerance}), "
                f"found {actual.get(path)!r}"
            )
    if not wrong:
        return []
    return [
        _finding(
            step,
            exchange,
            "close_to",
            "the response does not hold the expected number",
            evidence=wrong,
        )
    ]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def check_succeeded(
    step: Step, exchanges: list[Exchange], bounds: Mapping[str, Any]
) -> list[Finding]:
    """The number of 2xx answers in a burst lies within `bounds` (min, max)."""
    statuses = [exchange.response.status for exchange in exchanges]
    succeeded = sum(200 <= status < 300 for status in statuses)
    low, high = bounds.get("min"), bounds.get("max")
    if (low is None or succeeded >= int(low)) and (
        high is None or succeeded <= int(high)
    ):
        return []
    wanted = " and ".join(
        part
        for part in (
            f"at least {low}" if low is not None else "",
            f"at most {high}" if high is not None else "",
        )
        if part
    )
    first = next(
        (e for e in exchanges if 200 <= e.response.status < 300), exchanges[-1]
    )
    tally = ", ".join(
        f"{statuses.count(status)} x {status}" for status in sorted(set(statuses))
    )
    return [
        _finding(
            step,
            first,
            "succeeded",
            f"{succeeded} of {len(exchanges)} requests of the burst succeeded, "
            f"expected {wanted}",
            evidence=[f"answers: {tally}"],
        )
    ]


def compare_to_missing(
    exchange: Exchange,
    control: Exchange,
    volatile: frozenset[str],
    swapped: Mapping[str, str],
) -> list[str]:
    """How the answer about the victim's object differs from the answer about a
    missing one. Values swapped for the control are masked in both bodies."""
    real, missing = exchange.response, control.response
    differences = []
    if real.status != missing.status:
        differences.append(
            f"status {real.status} against {missing.status} for a missing ID"
        )
    if _masked(real.body, swapped, keys=True) != _masked(
        missing.body, swapped, keys=False
    ):
        differences.append("the bodies differ")
    differences += _header_differences(real, missing, volatile, swapped)
    return differences


def _masked(body: bytes, swapped: Mapping[str, str], keys: bool) -> bytes:
    for original, twin in swapped.items():
        body = body.replace((original if keys else twin).encode(), b"<ID>")
    return body


def _header_differences(real, missing, volatile, swapped) -> list[str]:
    def normalized(response: HttpResponse, keys: bool) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for name, value in response.headers:
            if name.lower() not in volatile:
                masked = _masked(value.encode(), swapped, keys).decode()
                found.setdefault(name.lower(), []).append(masked)
        return found

    ours, theirs = normalized(real, True), normalized(missing, False)
    return [
        f"header {name}: {ours.get(name, ['(absent)'])} against "
        f"{theirs.get(name, ['(absent)'])} for a missing ID"
        for name in sorted(set(ours) | set(theirs))
        if ours.get(name) != theirs.get(name)
    ]


def check_indistinguishable(
    step: Step, exchange: Exchange, control: Exchange, differences: list[str]
) -> list[Finding]:
    if not differences:
        return []
    return [
        _finding(
            step,
            exchange,
            "indistinguishable",
            "the answer differs from the answer for an ID that does not exist",
            control=control,
            evidence=differences,
        )
    ]


def audit_matches(records: Iterable[Any], wanted: Mapping[str, Any]) -> bool:
    return any(
        isinstance(record, Mapping)
        and all(str(record.get(key)) == str(value) for key, value in wanted.items())
        for record in records
    )


def check_audit(
    step: Step,
    exchange: Exchange,
    wanted: Mapping[str, Any],
    request_id: str | None,
    records: list,
) -> list[Finding]:
    if request_id is not None and audit_matches(records, wanted):
        return []
    summary = (
        "the response carries no request ID, so no audit record can be tied to it"
        if request_id is None
        else f"no audit record {dict(wanted)} for request {request_id}"
    )
    seen = [_brief_record(record) for record in records] or ["(no records at all)"]
    return [
        _finding(
            step, exchange, "audit", summary, evidence=seen, context={"wanted": wanted}
        )
    ]


def _brief_record(record: Any) -> str:
    if not isinstance(record, Mapping):
        return repr(record)
    keys = ("event", "action", "decision", "reason", "resource_type", "resource_id")
    return ", ".join(f"{key}={record[key]}" for key in keys if key in record)


def _explain(
    check: str, step: Step, status: int, context: Mapping[str, Any]
) -> tuple[str, str]:
    if check in ("status", "no_2xx"):
        return _explain_status(step, status, context.get("wanted", ()))
    return _EXPLANATIONS[check]


def _explain_status(step: Step, status: int, wanted) -> tuple[str, str]:
    wants_401 = any(str(one).startswith("401") for one in wanted)
    if 200 <= status < 300 and wants_401:
        return _EXPLANATIONS["accepted_identity"]
    if 200 <= status < 300 and step.actor == "attacker":
        return _EXPLANATIONS["served"]
    if status == 403 and step.actor == "attacker":
        return _EXPLANATIONS["forbidden_oracle"]
    if status >= 500:
        return _EXPLANATIONS["crash"]
    return (
        f"The scenario requires {_show_wanted(wanted)} for this request; {status} "
        "is not what a target that keeps tenants apart answers here.",
        "Make the endpoint answer as the scenario requires, and check that the "
        "tenant check runs before anything else touches the object.",
    )


_EXPLANATIONS = {
    "served": (
        "The target carried out a request on another tenant's object with the "
        "attacker's own, valid token: the tenant check is missing or bypassed for "
        "this route (OWASP API1:2023, broken object level authorization).",
        "Scope the lookup by the tenant of the verified token (e.g. WHERE "
        "tenant_id = :token_tenant), for every method and route that reads the "
        "ID, and answer 404 when nothing matches.",
    ),
    "accepted_identity": (
        "The target accepted credentials it should have rejected: tenant identity "
        "must come only from a token whose signature, algorithm, issuer, audience "
        "and validity period have all been verified.",
        "Verify the token with the algorithm pinned server-side, require iss, aud, "
        "exp, nbf and tid, and reject anything else with 401 before routing.",
    ),
    "forbidden_oracle": (
        "A 403 tells the attacker the object exists and belongs to someone else, "
        "while a missing object answers 404: the difference lets an attacker find "
        "other tenants' IDs (ATTACKS.md G44).",
        "Answer anything of another tenant exactly as if it did not exist: 404 "
        "with the same body and headers.",
    ),
    "crash": (
        "The target failed on input the attacker controls. A 5xx on another "
        "tenant's object or on a malformed ID means the request reached code that "
        "did not expect it, often past where the tenant check should have stopped "
        "it, and it is a cheap denial of service.",
        "Validate IDs and bodies before use (answer 400), and never let an "
        "exception escape as a 500.",
    ),
    "no_canary": (
        "The response carries data the victim tenant planted: the attacker has "
        "read another tenant's data, whatever the status code says.",
        "Filter every read, list, search, error and redirect by the tenant of the "
        "verified token, and never echo another tenant's objects in errors.",
    ),
    "absent": (
        "The response shows a value the scenario says must not be visible here, "
        "such as a deleted object or another tenant's ID.",
        "Remove the object from every read and list path once it is deleted or "
        "when it belongs to another tenant.",
    ),
    "fields": (
        "The victim's object no longer holds what the victim wrote: a request of "
        "the attacker changed it, even if that request was answered with an error.",
        "Check the tenant before any write (update, replace, delete), inside the "
        "same query that writes, not after it.",
    ),
    "close_to": (
        "A number the target answers (a limit's Retry-After, a count) is not the "
        "one its contract gives: a limit that resets at the wrong instant lets a "
        "tenant spend one day's quota twice (ATTACKS.md F42), or locks it out.",
        "Compute windows and resets in the tenant's own time zone from one clock, "
        "and answer the seconds until that reset.",
    ),
    "indistinguishable": (
        "The answer about the victim's object differs from the answer about an ID "
        "that does not exist. That difference lets an attacker tell other tenants' "
        "IDs from unused ones (ATTACKS.md G44), and confirms what it enumerates.",
        "Answer anything of another tenant with the very response of a missing "
        "object: same status, body and headers (only per-request values such as "
        "X-Request-ID and Date may differ).",
    ),
    "succeeded": (
        "More requests of the burst were carried out than the target allows: "
        "requests released at the same instant raced past a check that reads "
        "a count and writes it back in two steps (ATTACKS.md F37-F39).",
        "Take the decision and the write in one atomic step: a conditional "
        "update, a row lock or a unique constraint, not a read then a write.",
    ),
    "audit": (
        "The attempt left no matching record in the audit log. A cross-tenant or "
        "spoofing attempt that is not recorded cannot be detected, alerted on or "
        "investigated.",
        "Write an audit record, tied to the request ID, for every denial that "
        "touched another tenant's object and for every spoofing attempt.",
    ),
}
