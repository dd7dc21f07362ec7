"""Scenarios that do not apply to a target are skipped with the reason shown,
before any tenant is made; and the keys that reach what a profile offers:
named endpoints, path rewrites, operator steps, tokens with fewer roles."""

from __future__ import annotations

import pytest

from harness.runner import ItemRun, ItemSkipped
from tests.harness.fakeapi import OPERATOR_KEY

NEEDS_BULK = """\
id: needs-bulk
title: Needs a bulk endpoint
technique: C24
requires: ["{{resource}}.batch_read", export]
matrix:
  resource: [agent]
attack:
  - request: {endpoint: agent.batch_read, id: [a, b]}
"""


def item(load, target, text: str, variant: int = 0) -> ItemRun:
    scenario = load(text)
    return ItemRun(scenario, scenario.variants[variant], target, seed=1)


def test_an_item_the_target_cannot_run_is_skipped_before_any_request(load, target, api):
    run = item(load, target, NEEDS_BULK)

    with pytest.raises(ItemSkipped) as skipped:
        run.setup()

    reason = str(skipped.value)
    assert "requires 'agent.batch_read'" in reason
    assert "the profile 'fake' does not offer" in reason
    assert "resources: agent" in reason and "(scenario line 4;" in reason
    assert api.requests == []


def test_an_item_runs_once_the_profile_offers_what_it_requires(load, target, api):
    target.profile.data["endpoints"] = {"export": {"method": "GET", "path": "/x"}}
    target.profile.data["resources"]["agent"]["endpoints"] = {
        "batch_read": {
            "method": "POST",
            "path": "/v1/agents",
            "json": {"ids": "{{id}}"},
        }
    }
    run = item(load, target, NEEDS_BULK)

    run.setup()
    run.attack()

    sent = [e.request for e in run.exchanges if e.kind == "attack"][0]
    assert sent.method == "POST" and sent.body == b'{"ids": ["a", "b"]}'


def test_a_named_endpoint_the_step_overrides(load, target, api):
    target.profile.data["endpoints"] = {
        "probe": {"method": "GET", "path": "/v1/agents", "headers": {"X-A": "1"}}
    }
    text = """\
id: probe
title: Probe
technique: B16
attack:
  - request: {endpoint: probe, method: DELETE, headers: {X-B: "2"}, json: {a: 1}}
    expect: {status: 4xx}
"""
    run = item(load, target, text)
    run.setup()

    run.attack()

    sent = [e.request for e in run.exchanges if e.kind == "attack"][0]
    assert sent.method == "DELETE"
    assert sent.header("X-A") == "1" and sent.header("X-B") == "2"


def test_an_endpoint_the_profile_lacks_skips_the_item(load, target):
    text = NEEDS_BULK.replace('requires: ["{{resource}}.batch_read", export]\n', "")
    run = item(load, target, text)
    run.setup()

    with pytest.raises(ItemSkipped, match="no endpoint 'agent.batch_read'"):
        run.attack()


def test_a_resource_the_profile_lacks_skips_the_item(load, target):
    text = """\
id: no-files
title: Files
technique: A1
setup:
  - create: file
attack:
  - request: {method: GET, path: /v1/files}
"""
    with pytest.raises(ItemSkipped, match="has no create recipe for 'file'"):
        item(load, target, text).setup()


REWRITE = """\
id: rewrite
title: Another version
technique: A8
cases:
  v2: {rewrite: ['^/v\\d+/', "/v2/"]}
  same: {rewrite: ['^/v1/', "/v1/"]}
setup:
  - create: agent
    save: {theirs: id}
attack:
  - request:
      method: GET
      endpoint: agent.item
      id: "{{theirs}}"
      rewrite: "{{rewrite}}"
    expect: {status: 404, indistinguishable_from_missing: true}
"""


def test_a_rewrite_changes_the_profile_path_and_its_control(load, target):
    run = item(load, target, REWRITE)
    run.setup()

    assert run.attack() == []

    urls = [e.request.url for e in run.exchanges if e.kind in ("attack", "control")]
    assert all(url.startswith("http://fake/v2/agents/ag_") for url in urls)
    assert urls[0] != urls[1]


def test_a_rewrite_that_changes_nothing_does_not_apply(load, target):
    run = item(load, target, REWRITE, variant=1)
    run.setup()

    with pytest.raises(ItemSkipped, match="changes nothing"):
        run.attack()


OPERATOR = """\
id: operator
title: The operator reads the audit log
technique: G47
attack:
  - as: operator
    request: {method: GET, path: /admin/audit, query: {request_id: x}}
    expect: {status: 200}
"""


def test_an_operator_step_sends_the_profiles_operator_headers(load, target):
    target.profile.data["operator"] = {
        "headers": {"X-Operator-Key": "{{operator_key}}"}
    }
    run = item(load, target, OPERATOR)
    run.setup()

    assert run.attack() == []

    sent = [e.request for e in run.exchanges if e.kind == "attack"][0]
    assert sent.header("X-Operator-Key") == OPERATOR_KEY
    assert sent.header("Authorization") is None


def test_an_operator_step_without_an_operator_section_does_not_apply(load, target):
    run = item(load, target, OPERATOR)
    run.setup()

    with pytest.raises(ItemSkipped, match="no `operator:` section"):
        run.attack()


ROLES = """\
id: roles
title: A viewer token
technique: B17
attack:
  - auth: {token: own, roles: [viewer]}
    request: {method: GET, endpoint: agent.list}
    expect: {status: 200}
"""


def test_a_token_with_fewer_roles_is_minted_with_the_profiles_request(
    load, target, api
):
    token = target.profile.data["token"]["request"]
    token["json"]["roles"] = "{{roles}}"
    run = item(load, target, ROLES)
    run.setup()

    assert run.attack() == []

    mints = [r for r in api.requests if r.url.endswith("/tokens")]
    assert [r.body for r in mints][-1].endswith(b'"roles": ["viewer"]}')
    assert [e.kind for e in run.exchanges][-2:] == ["token", "attack"]
    assert "$ATTACKER_VIEWER_TOKEN" in run.secrets().values()


def test_a_profile_that_cannot_mint_roles_skips_the_item(load, target):
    run = item(load, target, ROLES)
    run.setup()

    with pytest.raises(ItemSkipped, match=r"without reading \{\{roles\}\}"):
        run.attack()


LET = """\
id: let
title: A value drawn once
technique: A12
let:
  marker: "m-{{unique}}"
  tagged: "{{marker}}-{{attacker.tenant}}"
attack:
  - request: {method: POST, path: /v1/agents, json: {name: "{{marker}}"}}
    expect: {status: 201}
  - request: {method: GET, path: /v1/agents}
    expect:
      status: 200
      absent: ["{{tagged}}"]
      fields:
        body.items[0].name: "{{marker}}"
"""


def test_let_values_are_drawn_once_per_item(load, target):
    run = item(load, target, LET)
    run.setup()

    assert run.attack() == []

    marker = run.context.values["marker"]
    assert marker.startswith("m-") and len(marker) == 14
    assert run.context.values["tagged"].endswith(run.tenants["attacker"].id)
