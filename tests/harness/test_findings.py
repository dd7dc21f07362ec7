"""The finding text: where, the curl line, what came back, why, what to fix."""

from __future__ import annotations

from harness import findings as render
from harness.runner import ItemRun
from tests.harness.fakeapi import READ_SCENARIO, Bugs


def breach_text(load, target, api, bugs: Bugs) -> tuple[str, ItemRun]:
    api.bugs = bugs
    scenario = load(READ_SCENARIO)
    run = ItemRun(scenario, scenario.variants[0], target)
    run.setup()
    findings = run.attack()
    return render.render(scenario, scenario.variants[0], findings, run.secrets()), run


def test_the_finding_names_the_scenario_its_file_line_and_step(load, target, api):
    text, run = breach_text(load, target, api, Bugs(no_tenant_check=True))

    lines = text.splitlines()
    assert lines[0] == "BREACH read-foreign-agent  (A1 | API1:2023 | agent)"
    assert (
        lines[1].startswith("scenario: ")
        and "scenario.yaml:1  The attacker" in lines[1]
    )
    assert (
        lines[2]
        == 'step:     attack step 1 "the attacker reads it" (line 12) as the attacker'
    )


def test_the_request_is_a_curl_line_with_the_token_redacted(load, target, api):
    text, run = breach_text(load, target, api, Bugs(no_tenant_check=True))

    theirs = run.context.values["theirs"]
    assert (
        f"    curl -sS -i -X GET http://fake/v1/agents/{theirs} "
        "-H 'Authorization: Bearer '\"$ATTACKER_TOKEN\"" in text
    )
    for tenant in run.tenants.values():
        assert tenant.token not in text


def test_the_answer_and_each_failed_check_with_its_line_are_shown(load, target, api):
    text, _ = breach_text(load, target, api, Bugs(no_tenant_check=True))

    assert "response:\n    HTTP 200" in text
    assert '"name": "agent cnry' in text
    assert (
        "FAILED expect.no_canary (on by default for attacker steps) (line 12)" in text
    )
    assert "FAILED expect.status (line 15): expected status 404, got 200" in text
    assert "FAILED expect.indistinguishable_from_missing (line 16)" in text
    assert "FAILED expect.audit (line 17)" in text
    assert "control, the same request for an ID that does not exist:" in text


def test_the_worst_finding_comes_first(load, target, api):
    text, _ = breach_text(load, target, api, Bugs(no_tenant_check=True))

    failed = [line for line in text.splitlines() if line.startswith("FAILED")]
    assert failed[0].startswith("FAILED expect.no_canary")


def test_one_paragraph_says_why_it_is_a_breach_and_what_to_fix(load, target, api):
    text, _ = breach_text(load, target, api, Bugs(forbidden_not_404=True))

    paragraph = text.split("\n\n")[-1]
    joined = " ".join(paragraph.splitlines())
    assert joined.startswith("Why this is a breach: A 403 tells the attacker")
    assert "IDs are not secrets." in joined  # the scenario's own `why`
    assert "What to fix: Answer anything of another tenant exactly as if it" in joined
    assert all(len(line) <= render.WIDTH for line in paragraph.splitlines())


def test_no_traceback_and_no_secret_in_the_text(load, target, api):
    text, run = breach_text(load, target, api, Bugs(no_tenant_check=True))

    assert "Traceback" not in text and 'File "' not in text
    assert "operator-key-for-tests" not in text


def test_the_json_form_of_a_finding_carries_the_curl_line(load, target, api):
    api.bugs = Bugs(forbidden_not_404=True)
    scenario = load(READ_SCENARIO)
    run = ItemRun(scenario, scenario.variants[0], target)
    run.setup()
    finding = run.attack()[0]

    data = render.as_dict(finding, run.secrets())

    assert data["check"] == "expect.status"
    assert data["line"] == 15
    assert "$ATTACKER_TOKEN" in data["curl"]
    assert data["response"]["status"] == 403
