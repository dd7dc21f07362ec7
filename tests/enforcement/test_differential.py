"""One decision table, two engines: real OPA and embedded regopy must agree
on every decision, to the reason code and message."""

from __future__ import annotations

import collections
import json

import pytest

from enforcement import Embedded, OpaServer
from tests.enforcement.decision_table import rows

ROWS = rows()


@pytest.fixture(scope="module")
def engines(opa_server, policy_dir, tenant_data):
    with OpaServer(opa_server.url) as opa:
        yield opa, Embedded(policy_dir, tenant_data)


def test_table_is_large_and_mixed(engines):
    opa, _ = engines
    outcomes = collections.Counter(
        opa.decide(entry_point, input).reason.code for entry_point, input in ROWS
    )
    assert len(ROWS) >= 200
    assert outcomes["allowed"] >= 20
    for code in (
        "not_found",
        "subject_invalid",
        "request_invalid",
        "role_forbidden",
        "limit_exceeded",
        "feature_disabled",
        "storage_path_invalid",
    ):
        assert outcomes[code] > 0, f"the table never produces {code}: {outcomes}"
    assert not [code for code in outcomes if code.startswith("engine_")]


def test_opa_and_embedded_agree_on_every_row(engines):
    opa, embedded = engines
    disagreements = []
    for entry_point, input in ROWS:
        on_opa, on_embedded = (
            opa.decide(entry_point, input),
            embedded.decide(entry_point, input),
        )
        if on_opa != on_embedded:
            disagreements.append(
                f"{entry_point} {json.dumps(input)}\n  opa:      {on_opa}\n  embedded: {on_embedded}"
            )
    assert not disagreements, (
        f"{len(disagreements)} of {len(ROWS)} rows differ:\n"
        + "\n".join(disagreements[:20])
    )
