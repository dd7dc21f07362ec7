"""The whole scenario suite against the stack (on OPA), then the audit log:
every cross-tenant request the suite made is in it, and the chain verifies.

A cross-tenant request is an attack step sent by the attacker whose request
(method, URL, headers, body, as the report's curl line shows it) names the
victim's tenant or one of the objects the victim created in that item. It
must have at least one audit record carrying its response's X-Request-ID.
"""

from __future__ import annotations

import io
import json
import re

import requests

from enforcement import audit_cli
from harness.stackproc import ReferenceStack
from tests.suite import run_suite

OBJECT_ID = re.compile(r"\b(?:ag|ex|cr)_[0-9a-f]{24}\b")


def audit_by_request(stack: ReferenceStack) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    after = 0
    while True:
        answer = requests.get(
            f"{stack.url}/admin/audit",
            params={"after": after, "limit": 1000},
            headers={"X-Operator-Key": stack.operator_key},
            timeout=30,
        )
        answer.raise_for_status()
        records = answer.json()["records"]
        for record in records:
            found.setdefault(record["request_id"], []).append(record)
        if len(records) < 1000:
            return found
        after = records[-1]["seq"]


def victim_names(item: dict) -> set[str]:
    """The victim's tenant ID and the IDs of everything it created."""
    names = set()
    for exchange in item["exchanges"]:
        if exchange["actor"] != "victim":
            continue
        body = exchange["response"]["body"]
        if exchange["kind"] == "tenant":
            names.add(json.loads(body)["id"])
        elif exchange["kind"] == "setup":
            names.update(OBJECT_ID.findall(body))
            names.update(_stored_file_names(body))
    return names


def _stored_file_names(body: str) -> set[str]:
    try:
        value = json.loads(body)
    except ValueError:
        return set()
    if isinstance(value, dict) and {"name", "sha256"} <= set(value):
        return {value["name"]}
    return set()


def cross_tenant_requests(report: dict):
    for item in report["items"]:
        names = victim_names(item)
        for exchange in item["exchanges"]:
            if exchange["kind"] != "attack" or exchange["actor"] != "attacker":
                continue
            named = sorted(name for name in names if name in exchange["curl"])
            if named:
                yield item["name"], exchange, named


def request_id(exchange: dict) -> str | None:
    headers = {k.lower(): v for k, v in exchange["response"]["headers"]}
    return headers.get("x-request-id")


def test_every_cross_tenant_request_of_the_suite_is_in_the_audit_log(
    opa_binary, tmp_path
):
    with ReferenceStack(tmp_path / "stack", engine="opa") as stack:
        report = run_suite(stack, tmp_path / "report")
        audited = audit_by_request(stack)
        verified = requests.get(
            f"{stack.url}/admin/audit/verify",
            headers={"X-Operator-Key": stack.operator_key},
            timeout=60,
        ).json()
    db_url = stack.db_url

    requests_made = list(cross_tenant_requests(report))
    missing = [
        f"{name}: {exchange['label']} -> {exchange['response']['status']}: "
        f"{exchange['curl'][:300]}"
        for name, exchange, _ in requests_made
        if not audited.get(request_id(exchange) or "")
    ]
    statuses = sorted(
        {exchange["response"]["status"] for _, exchange, _ in requests_made}
    )
    print(
        f"\n{report['summary']}: {len(requests_made) - len(missing)}/"
        f"{len(requests_made)} cross-tenant requests found in the audit log "
        f"(answered {statuses}); chain of {verified['records']} records "
        f"verified: {verified['ok']}"
    )
    assert len(requests_made) > 100
    assert not missing, "\n".join(missing[:20])
    assert verified["ok"] and verified["problems"] == []
    out = io.StringIO()
    assert audit_cli.main(["verify", "--db", db_url], stdout=out) == 0, out.getvalue()
