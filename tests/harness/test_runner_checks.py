"""The runner and its checks against a hand-written fake API (no network).

Every bug the fake can switch on must be caught by the check meant for it,
and the fake without bugs must pass: each "denied" test has its twin.
"""

from __future__ import annotations

import pytest

from harness import checks
from harness.errors import ScenarioError, TargetError
from harness.http import Exchange, HttpRequest, HttpResponse
from harness.runner import ItemRun, ItemSkipped, twin
from harness.scenario import Step
from harness.template import Canary
from tests.harness.fakeapi import READ_SCENARIO, Bugs


def run_item(load, target, text: str = READ_SCENARIO, variant: int = 0):
    scenario = load(text)
    run = ItemRun(scenario, scenario.variants[variant], target, now=lambda: 1_000_000)
    run.setup()
    return run, run.attack()


def checks_of(findings) -> list[str]:
    return [finding.check for finding in findings]


def test_an_isolated_target_passes(load, target):
    run, findings = run_item(load, target)

    assert findings == []
    kinds = [exchange.kind for exchange in run.exchanges]
    assert kinds == [
        "tenant",
        "token",
        "tenant",
        "token",
        "setup",
        "attack",
        "control",
        "audit",
    ]


def test_provisioning_gives_fresh_tenants_per_item(load, target, api):
    first, _ = run_item(load, target)
    second, _ = run_item(load, target)

    tenants = {t.id for run in (first, second) for t in run.tenants.values()}
    assert len(tenants) == 4
    assert tenants <= api.tenants


def test_a_missing_tenant_check_is_caught_by_status_canary_and_comparison(
    load, target, api
):
    api.bugs = Bugs(no_tenant_check=True)

    _, findings = run_item(load, target)

    assert checks_of(findings) == ["status", "no_canary", "indistinguishable", "audit"]
    canary = findings[1]
    assert len(canary.evidence) == 2  # name and description
    assert "planted in setup step 1" in canary.evidence[0]


def test_403_for_a_foreign_object_is_caught(load, target, api):
    api.bugs = Bugs(forbidden_not_404=True)

    _, findings = run_item(load, target)

    assert checks_of(findings) == ["status", "indistinguishable"]
    assert "expected status 404, got 403" in findings[0].summary
    assert "status 403 against 404" in findings[1].evidence[0]
    assert "oracle" not in findings[0].why and "404" in findings[0].why


def test_an_id_echoed_in_both_404s_is_not_a_difference(load, target, api):
    api.bugs = Bugs(echo_id_in_404=True)

    _, findings = run_item(load, target)

    assert findings == []


def test_a_header_only_foreign_objects_get_is_caught(load, target, api):
    api.bugs = Bugs(extra_header_on_foreign=True)

    _, findings = run_item(load, target)

    assert checks_of(findings) == ["indistinguishable"]
    assert findings[0].evidence == [
        "header x-owner-hint: ['another-tenant'] against ['(absent)'] for a missing ID"
    ]
    assert findings[0].control.request.url != findings[0].exchange.request.url


def test_a_missing_audit_record_is_caught(load, target, api):
    api.bugs = Bugs(no_audit=True)

    _, findings = run_item(load, target)

    assert checks_of(findings) == ["audit"]
    assert "no audit record {'event': 'cross_tenant_attempt'}" in findings[0].summary


def test_audit_is_not_checked_when_the_profile_has_no_audit_log(load, target, api):
    api.bugs = Bugs(no_audit=True)
    del target.profile.data["audit"]

    run, findings = run_item(load, target)

    assert findings == []
    assert any("audit not checked" in note for e in run.exchanges for note in e.notes)


WRITE_SCENARIO = """\
id: rename-foreign-agent
title: The attacker renames the victim's agent
technique: A13
setup:
  - create: agent
    save: {theirs: id, their_name: body.name}
attack:
  - name: the attacker renames it
    request:
      method: PATCH
      endpoint: agent.item
      id: "{{theirs}}"
      json: {name: renamed}
    expect: {no_canary: false}
  - name: the victim's agent is untouched
    as: victim
    request: {method: GET, endpoint: agent.item, id: "{{theirs}}"}
    expect:
      status: 200
      fields: {body.name: "{{their_name}}"}
"""


def test_fields_catch_a_write_that_reached_the_victim(load, target, api):
    api.bugs = Bugs(no_tenant_check=True)

    _, findings = run_item(load, target, WRITE_SCENARIO)

    assert checks_of(findings) == ["fields"]
    assert findings[0].step.actor == "victim"
    assert "found 'renamed'" in findings[0].evidence[0]
    assert "after the attacker's request" in findings[0].evidence[1]


def test_fields_pass_when_the_write_was_refused(load, target):
    _, findings = run_item(load, target, WRITE_SCENARIO)

    assert findings == []


LIST_SCENARIO = """\
id: list-agents
title: The attacker lists agents
technique: A3
setup:
  - create: agent
    save: {theirs: id}
attack:
  - request: {method: GET, endpoint: agent.list}
    expect: {status: 200, absent: ["{{theirs}}"]}
"""


def test_absent_values_pass_when_not_shown(load, target):
    _, findings = run_item(load, target, LIST_SCENARIO)

    assert findings == []


def test_a_setup_step_that_fails_is_a_target_error_not_a_finding(load, target):
    text = READ_SCENARIO.replace(
        "    create: agent\n", "    create: agent\n    expect: {status: 418}\n"
    )

    with pytest.raises(TargetError, match="This is not a finding") as caught:
        run_item(load, target, text)

    assert "curl -sS -i -X POST http://fake/v1/agents" in str(caught.value)


ATTACKER_SETUP_SCENARIO = READ_SCENARIO.replace(
    "attack:\n",
    """  - name: the attacker probes it before the attack
    as: attacker
    request: {method: GET, endpoint: agent.item, id: "{{theirs}}"}
    expect: {status: 404}
attack:
""",
)


def test_victim_data_reaching_the_attacker_in_setup_is_a_finding(load, target, api):
    api.bugs = Bugs(no_tenant_check=True)

    run, findings = run_item(load, target, ATTACKER_SETUP_SCENARIO)

    assert "no_canary" in checks_of(findings)
    assert {finding.step.label for finding in findings} == {
        'setup step 2 "the attacker probes it before the attack" (line 11)'
    }
    assert [e.kind for e in run.exchanges].count("attack") == 0


def test_a_403_to_the_attacker_in_setup_is_a_finding(load, target, api):
    api.bugs = Bugs(forbidden_not_404=True)

    _, findings = run_item(load, target, ATTACKER_SETUP_SCENARIO)

    assert checks_of(findings) == ["status"]
    assert findings[0].step.section == "setup"


def test_an_attacker_setup_step_without_victim_values_still_errors(load, target):
    text = ATTACKER_SETUP_SCENARIO.replace('id: "{{theirs}}"', "id: ag_000").replace(
        "expect: {status: 404}", "expect: {status: 418}"
    )

    with pytest.raises(TargetError, match="This is not a finding"):
        run_item(load, target, text)


def test_an_attacker_setup_step_on_an_isolated_target_leads_to_the_attack(load, target):
    run, findings = run_item(load, target, ATTACKER_SETUP_SCENARIO)

    assert findings == []
    assert [e.kind for e in run.exchanges].count("attack") == 1


def test_indistinguishable_needs_a_victim_value_in_the_request(load, target):
    text = READ_SCENARIO.replace('id: "{{theirs}}"', "id: ag_000")

    with pytest.raises(
        ScenarioError, match="needs a request that uses a value saved"
    ) as caught:
        run_item(load, target, text)

    assert caught.value.line == 16


def test_an_item_that_needs_the_target_key_is_skipped_without_it(load, target):
    text = READ_SCENARIO.replace(
        "    request:",
        '    auth: {token: forged, key: "{{target.jwt_key}}"}\n    request:',
    )

    with pytest.raises(ItemSkipped, match="does not provide 'jwt_key'"):
        run_item(load, target, text)


CASES_SCENARIO = """\
id: cases
title: Fields left out per case
technique: A4
cases:
  with-body: {json: {name: x}}
  without-body: {}
setup:
  - create: agent
    save: {theirs: id}
attack:
  - request: {method: POST, path: /v1/agents, json: "{{json}}"}
    expect: {status: [201, 400, 500]}
"""


@pytest.mark.parametrize(("variant", "body"), [(0, b'{"name": "x"}'), (1, b"")])
def test_a_whole_template_field_a_case_does_not_define_is_left_out(
    load, target, variant, body
):
    run, _ = run_item(load, target, CASES_SCENARIO, variant)

    attack = [e for e in run.exchanges if e.kind == "attack"][0]
    assert attack.request.body == body


def test_twin_keeps_prefix_length_alphabet_and_extension():
    for value in ("ag_0123456789abcdef01234567", "cnry01ab-x.txt", "ABC123"):
        other = twin(value)
        assert other != value and len(other) == len(value)
    assert twin("ag_0123456789abcdef01234567").startswith("ag_")
    assert set(twin("ag_0123456789abcdef01234567")[3:]) <= set("0123456789abcdef")
    assert twin("cnry01ab-x.txt").endswith(".txt")
    assert isinstance(twin(12345), int) and len(str(twin(12345))) == 5


def exchange(request_url="http://t/v1/x", body=b"", headers=(), request_body=b""):
    request = HttpRequest(
        "GET", request_url, (("Authorization", "Bearer t"),), request_body
    )
    return Exchange(
        "attack",
        "attack step 1",
        "attacker",
        request,
        HttpResponse(200, "", headers, body),
    )


def attack_step() -> Step:
    from harness.scenario import Expect

    return Step(
        "attack",
        0,
        "",
        "attacker",
        9,
        None,
        None,
        None,
        None,
        {},
        Expect(no_canary=True),
    )


CANARY = Canary("cnry0000000000000001", "victim", "setup step 1 (line 5)")


def test_no_canary_finds_a_canary_in_a_header():
    found = checks.check_no_canary(
        attack_step(),
        exchange(headers=(("Location", f"/x/{CANARY.value}"),)),
        [CANARY],
        "tg-v",
    )

    assert found[0].evidence == [
        f"{CANARY.value} (planted in setup step 1 (line 5)) found in header Location"
    ]


def test_no_canary_finds_the_victim_tenant_id():
    found = checks.check_no_canary(
        attack_step(), exchange(body=b'{"tenant": "tg-v"}'), [], "tg-v"
    )

    assert "the victim's tenant ID" in found[0].evidence[0]


def test_no_canary_ignores_what_the_attacker_sent_itself():
    url = f"http://t/v1/files/{CANARY.value}.txt"
    echo = exchange(request_url=url, body=f'{{"name": "{CANARY.value}.txt"}}'.encode())

    assert checks.check_no_canary(attack_step(), echo, [CANARY], "tg-v") == []


def test_no_canary_passes_on_a_clean_answer():
    assert (
        checks.check_no_canary(attack_step(), exchange(body=b"{}"), [CANARY], "tg-v")
        == []
    )
