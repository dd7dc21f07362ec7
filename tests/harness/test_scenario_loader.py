"""Loading scenarios: one test per kind of malformed file, each asserting that
the error names the file, the line and the fix."""

from __future__ import annotations

import textwrap

import pytest

from harness import scenario as scenarios
from harness.errors import ScenarioError

VALID = """\
id: read-foreign-agent
title: The attacker reads the victim's agent
technique: A1
setup:
  - name: the victim creates an agent
    create: agent
    save: {theirs: id}
attack:
  - name: the attacker reads it
    request: {method: GET, path: "/v1/agents/{{theirs}}"}
    expect: {status: 404}
"""


def error_of(write, text: str) -> ScenarioError:
    path = write(text)
    with pytest.raises(ScenarioError) as caught:
        scenarios.load(path)
    error = caught.value
    assert error.path == str(path)
    assert str(error).startswith(f"{path}:{error.line}: ")
    assert "\n  fix: " in str(error)
    return error


def replace(old: str, new: str) -> str:
    assert old in VALID
    return VALID.replace(old, new)


def test_valid_scenario_loads_with_steps_lines_and_defaults(load):
    scenario = load(VALID)

    assert scenario.id == "read-foreign-agent"
    assert scenario.techniques == ("A1",)
    assert [step.actor for step in scenario.setup + scenario.attack] == [
        "victim",
        "attacker",
    ]
    assert scenario.attack[0].line == 9
    assert scenario.setup[0].expect.status == ("2xx",)
    assert scenario.attack[0].expect.no_canary is True
    assert scenario.setup[0].expect.no_canary is False
    assert [variant.label for variant in scenario.variants] == [""]


def test_invalid_yaml(write):
    error = error_of(write, replace("save: {theirs: id}", "save: {theirs: id"))
    assert error.line == 8
    assert "invalid YAML" in error.problem
    assert "syntax" in error.fix


def test_tab_indentation(write):
    error = error_of(write, replace("  - name: the attacker", "\t- name: the attacker"))
    assert error.line == 9
    assert "tab" in error.fix


def test_empty_file(write):
    error = error_of(write, "# nothing here\n")
    assert "empty" in error.problem


def test_two_documents(write):
    error = error_of(write, VALID + "---\nid: other\n")
    assert error.line == 12
    assert "one document per file" in error.fix


def test_duplicate_key(write):
    error = error_of(
        write, replace("technique: A1\n", "technique: A1\ntechnique: A2\n")
    )
    assert error.line == 4
    assert "duplicate key 'technique'" in error.problem
    assert "line 3" in error.problem


def test_unknown_key(write):
    error = error_of(
        write, replace("    expect: {status: 404}", "    expec: {status: 404}")
    )
    assert error.line == 11
    assert "unknown key 'expec'" in error.problem
    assert "did you mean 'expect'?" in error.fix


def test_unknown_key_in_expect(write):
    error = error_of(
        write, replace("{status: 404}", "{status: 404, no_canaries: true}")
    )
    assert error.line == 11
    assert "did you mean 'no_canary'?" in error.fix


def test_missing_required_key(write):
    error = error_of(
        write, replace("title: The attacker reads the victim's agent\n", "")
    )
    assert error.line == 1
    assert "missing the required key 'title'" in error.problem
    assert "add `title:`" in error.fix


def test_missing_attack(write):
    text = VALID.split("attack:")[0]
    error = error_of(write, text)
    assert "'attack'" in error.problem


def test_wrong_type(write):
    error = error_of(write, replace("    save: {theirs: id}", "    save: [theirs]"))
    assert error.line == 7
    assert "'setup[0].save' must be a mapping, not a list" in error.problem


def test_wrong_type_of_status(write):
    error = error_of(write, replace("status: 404", "status: not-found"))
    assert error.line == 11
    assert "'attack[0].expect.status'" in error.problem
    assert "404" in error.fix


def test_status_out_of_range(write):
    error = error_of(write, replace("status: 404", "status: 42"))
    assert "an HTTP status" in error.problem


def test_boolean_where_a_string_is_needed(write):
    error = error_of(
        write, replace("title: The attacker reads the victim's agent", "title: yes")
    )
    assert error.line == 2
    assert "True (a boolean)" in error.problem


def test_unknown_technique_group(write):
    error = error_of(write, replace("technique: A1", "technique: Z1"))
    assert error.line == 3
    assert "technique number from ATTACKS.md" in error.problem


def test_technique_outside_its_group(write):
    error = error_of(write, replace("technique: A1", "technique: [A1, D3]"))
    assert error.line == 3
    assert "'D3' does not exist" in error.problem
    assert "D25" in error.fix


def test_bad_owasp_category(write):
    error = error_of(
        write, replace("technique: A1\n", "technique: A1\nowasp: API1:2019\n")
    )
    assert error.line == 4
    assert "API1:2023" in error.fix


def test_bad_actor(write):
    error = error_of(
        write,
        replace(
            "  - name: the attacker reads it\n",
            "  - name: the attacker reads it\n    as: admin\n",
        ),
    )
    assert error.line == 10
    assert "write one of: victim, attacker" in error.fix


def test_create_and_request_both(write):
    error = error_of(
        write,
        replace(
            "    create: agent\n",
            "    create: agent\n    request: {method: GET, path: /}\n",
        ),
    )
    assert error.line == 5
    assert "give exactly one of: create, request" in error.fix


def test_path_and_endpoint_both(write):
    error = error_of(
        write,
        replace('path: "/v1/agents/{{theirs}}"', "path: /x, endpoint: agent.item"),
    )
    assert "give exactly one of: path, endpoint" in error.fix


def test_two_bodies(write):
    error = error_of(
        write,
        replace('path: "/v1/agents/{{theirs}}"}', 'path: /x, json: {}, body: ""}'),
    )
    assert error.line == 10
    assert "both 'json' and 'body'" in error.problem


def test_bad_save_expression(write):
    error = error_of(
        write, replace("save: {theirs: id}", "save: {theirs: response.id}")
    )
    assert error.line == 7
    assert "body.id" in error.fix


def test_undefined_variable(write):
    error = error_of(write, replace("/v1/agents/{{theirs}}", "/v1/agents/{{thiers}}"))
    assert error.line == 10
    assert "'thiers' is not defined" in error.problem
    assert "did you mean 'theirs'?" in error.fix


def test_variable_used_before_it_is_saved(write):
    text = replace(
        "    create: agent\n", "    create: agent\n    parent: '{{theirs}}'\n"
    )
    error = error_of(write, text)
    assert error.line == 7
    assert "'theirs' is not defined at this point" in error.problem


def test_unreadable_template(write):
    error = error_of(write, replace("{{theirs}}", "{{theirs +}}"))
    assert error.line == 10
    assert "cannot read the template" in error.problem


def test_unknown_filter(write):
    error = error_of(write, replace("{{theirs}}", "{{theirs | shout}}"))
    assert "homoglyph" in error.fix


def test_reserved_variable_name(write):
    error = error_of(write, replace("setup:", "matrix:\n  canary: [a, b]\nsetup:"))
    assert error.line == 5
    assert "reserved" in error.problem


def test_case_label_that_is_not_a_string(write):
    error = error_of(write, replace("setup:", "cases:\n  null: {x: 1}\nsetup:"))
    assert error.line == 5
    assert "string key" in error.problem


def test_duplicate_variant_labels(write):
    error = error_of(write, replace("setup:", "matrix:\n  x: [a b, a_b]\nsetup:"))
    assert "share the label" in error.problem


def test_auth_key_for_another_token_kind(write):
    text = replace(
        "    expect: {status: 404}",
        "    auth: {token: none, alg: none}\n    expect: {status: 404}",
    )
    error = error_of(write, text)
    assert error.line == 11
    assert "does not apply to `token: none`" in error.problem
    assert "forged" in error.fix


def test_raw_token_without_value(write):
    text = replace(
        "    expect: {status: 404}", "    auth: {token: raw}\n    expect: {status: 404}"
    )
    error = error_of(write, text)
    assert "add `value:`" in error.fix


def test_unknown_signature_mode(write):
    text = replace(
        "    expect: {status: 404}",
        "    auth: {token: forged, signature: strip}\n    expect: {status: 404}",
    )
    error = error_of(write, text)
    assert "keep" in error.fix


def test_matrix_and_cases_make_the_product_of_variants(load):
    text = VALID.replace(
        "setup:",
        textwrap.dedent(
            """\
            matrix:
              resource: [agent, credential]
            cases:
              upper: {form: "{{theirs | upper}}"}
              slash: {form: "{{theirs}}/"}
            setup:"""
        ),
    )
    scenario = load(text)

    labels = [variant.label for variant in scenario.variants]
    assert labels == [
        "agent-upper",
        "agent-slash",
        "credential-upper",
        "credential-slash",
    ]
    assert scenario.variants[1].values == {"resource": "agent", "form": "{{theirs}}/"}


def test_every_shipped_scenario_loads(repo):
    paths = sorted((repo / "scenarios").glob("*.yaml"))
    assert len(paths) >= 15
    loaded = [scenarios.load(path) for path in paths]
    assert len({scenario.id for scenario in loaded}) == len(loaded)


# The keys for targets that lack a surface, drawn values, bursts and operators.

EXTENDED = """\
id: extended
title: Every newer key at once
technique: [B16, F37]
requires: [admin_audit, "{{resource}}.batch_read"]
matrix:
  resource: [agent]
let:
  marker: "m-{{unique}}"
setup:
  - name: the operator reads the audit log
    as: operator
    request: {endpoint: admin_audit, id: "{{victim.tenant}}"}
attack:
  - name: twenty creates and a delete, released together
    burst:
      - {repeat: 20, method: POST, endpoint: agent.list, json: {name: "{{marker}}"}}
      - {method: DELETE, path: /v1/agents/x, rewrite: ["^/v1/", "/v2/"]}
    auth: {token: own, roles: [viewer]}
    expect: {status: [201, 429], succeeded: {max: 10}}
  - name: an upload with an odd file name
    request:
      method: POST
      path: /v1/uploads
      multipart: {file: {filename: "../../x", content: "{{marker}}"}, note: hi}
"""


def test_the_newer_keys_load(load):
    scenario = load(EXTENDED)

    assert scenario.requires == ("admin_audit", "{{resource}}.batch_read")
    assert scenario.let == {"marker": "m-{{unique}}"}
    assert scenario.setup[0].actor == "operator"
    burst = scenario.attack[0]
    assert [request.get("repeat", 1) for request in burst.burst] == [20, 1]
    assert burst.expect.succeeded == {"max": 10}
    assert scenario.lines["requires"] == 4


def test_a_burst_cannot_save(write):
    error = error_of(
        write,
        EXTENDED.replace(
            "    expect: {status: [201, 429], succeeded: {max: 10}}\n",
            "    save: {x: status}\n",
        ),
    )
    assert error.line == 19
    assert "save from a step before or after the burst" in error.fix


def test_a_burst_cannot_compare_one_answer(write):
    error = error_of(
        write,
        EXTENDED.replace(
            "succeeded: {max: 10}", "indistinguishable_from_missing: true"
        ),
    )
    assert "a burst has many" in error.problem


def test_succeeded_outside_a_burst(write):
    error = error_of(
        write, replace("expect: {status: 404}", "expect: {succeeded: {max: 1}}")
    )
    assert error.line == 11
    assert "make the step a `burst:`" in error.fix


def test_a_burst_too_large(write):
    error = error_of(write, EXTENDED.replace("repeat: 20", "repeat: 200"))
    assert "more than 200" in error.problem


def test_a_request_without_a_method(write):
    error = error_of(write, replace("{method: GET, path:", "{path:"))
    assert error.line == 10
    assert "only a named endpoint of the profile" in error.fix


def test_an_operator_step_with_auth(write):
    error = error_of(
        write,
        EXTENDED.replace(
            "    as: operator\n", "    as: operator\n    auth: {token: none}\n"
        ),
    )
    assert "remove `auth:`" in error.fix


def test_roles_on_a_raw_token(write):
    error = error_of(
        write, EXTENDED.replace("{token: own, roles", "{token: raw, value: x, roles")
    )
    assert "does not apply to `token: raw`" in error.problem
    assert "(own)" in error.fix


def test_let_that_reads_a_saved_value(write):
    error = error_of(
        write,
        replace("title:", 'let: {x: "{{theirs}}"}\ntitle:'),
    )
    assert error.line == 2
    assert "'theirs' is not defined" in error.problem


def test_let_that_shadows_a_builtin(write):
    error = error_of(write, replace("title:", 'let: {canary: "x"}\ntitle:'))
    assert "taken or not an identifier" in error.problem


def test_requires_that_reads_a_saved_value(write):
    error = error_of(write, replace("title:", 'requires: ["{{theirs}}"]\ntitle:'))
    assert error.line == 2


def test_a_multipart_file_part_without_a_name(write):
    error = error_of(write, EXTENDED.replace('{filename: "../../x", ', "{"))
    assert "missing the required key 'filename'" in error.problem


def test_every_shipped_scenario_names_known_resources(repo):
    from harness import techniques

    for path in sorted((repo / "scenarios").glob("*.yaml")):
        scenario = scenarios.load(path)
        for variant in scenario.variants:
            resource = scenario.resource_of(variant)
            assert resource in (*techniques.RESOURCES, ""), (path, resource)
