"""Template expansion: types, paths, offsets, filters, canaries, replay."""

from __future__ import annotations

import re

import pytest

from harness.template import (
    Context,
    Facts,
    Template,
    TemplateError,
    Unavailable,
    expand,
    names_in,
)


def context(**values) -> Context:
    return Context(values, now=lambda: 1_000_000)


def test_a_whole_template_keeps_the_value_type():
    ctx = context(n=3, obj={"id": "ag_1"}, nothing=None)

    assert expand("{{n}}", ctx) == 3
    assert expand("{{obj}}", ctx) == {"id": "ag_1"}
    assert expand("{{nothing}}", ctx) is None


def test_a_template_inside_text_renders_non_strings_as_json():
    ctx = context(obj={"id": "ag_1"}, nothing=None, flag=True)

    assert expand("/v1/agents/{{obj}}", ctx) == '/v1/agents/{"id":"ag_1"}'
    assert expand("x={{nothing}}&y={{flag}}", ctx) == "x=null&y=true"


def test_two_templates_in_one_string_are_both_expanded():
    assert expand("{{a}}/{{a}}", context(a="ag_1")) == "ag_1/ag_1"


def test_dotted_paths_and_indexes():
    ctx = context(body={"items": [{"id": "ag_1"}]})

    assert expand("{{body.items[0].id}}", ctx) == "ag_1"


def test_lists_and_mapping_keys_are_expanded():
    ctx = context(header="X-Tenant-ID", tenant="tg-b")

    assert expand({"{{header}}": ["{{tenant}}"]}, ctx) == {"X-Tenant-ID": ["tg-b"]}


def test_offsets_use_the_pinned_clock():
    ctx = context()

    assert expand("{{now}}", ctx) == 1_000_000
    assert expand("{{now - 3600}}", ctx) == 996_400
    assert expand("{{ now + 60 }}", ctx) == 1_000_060


def test_offset_on_a_string_is_an_error():
    with pytest.raises(TemplateError, match="not an integer"):
        expand("{{a + 1}}", context(a="x"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{id | upper}}", "AG_0A9Z"),
        ("{{id | swapcase}}", "AG_0A9Z"),
        ("{{id | next}}", "ag_0a9a"),
        ("{{id | prev}}", "ag_0a9y"),
        ("{{id | pct}}", "%61%67%5F%30%61%39%7A"),
        ("{{id | urlencode}}", "ag_0a9z"),
        ("{{id | homoglyph}}", "аg_0а9z"),
        ("{{id | upper | lower}}", "ag_0a9z"),
    ],
)
def test_filters(text, expected):
    assert expand(text, context(id="ag_0a9z")) == expected


def test_unknown_variable_names_the_known_ones():
    with pytest.raises(TemplateError) as caught:
        expand("{{agnet_id}}", context(agent_id="ag_1"))

    assert "unknown variable 'agnet_id'" in caught.value.problem
    assert "agent_id" in caught.value.fix


def test_missing_key_in_a_value():
    with pytest.raises(TemplateError, match="'nope' is not in"):
        expand("{{body.nope}}", context(body={"id": 1}))


def test_matrix_values_are_templates_expanded_on_use():
    ctx = context(theirs="ag_1", form=Template("{{theirs}}/"))

    assert expand("/v1/agents/{{form}}", ctx) == "/v1/agents/ag_1/"


def test_a_template_that_refers_to_itself_is_an_error():
    with pytest.raises(TemplateError, match="nest too deeply"):
        expand("{{loop}}", context(loop=Template("{{loop}}")))


def test_values_from_the_target_are_never_expanded_again():
    ctx = context(saved="{{canary}}")

    assert expand("{{saved}}", ctx) == "{{canary}}"
    assert ctx.canaries == []


def test_each_canary_is_fresh_and_recorded_with_its_owner_and_place():
    ctx = context()
    ctx.actor, ctx.where = "victim", "setup step 1"

    planted = expand({"name": "agent {{canary}}", "secret": "{{canary}}"}, ctx)

    values = [canary.value for canary in ctx.canaries]
    assert planted == {"name": f"agent {values[0]}", "secret": values[1]}
    assert values[0] != values[1]
    assert all(re.fullmatch(r"cnry[0-9a-f]{16}", value) for value in values)
    assert {(c.owner, c.where) for c in ctx.canaries} == {("victim", "setup step 1")}
    assert ctx.owned_by("attacker") == []


def test_a_replay_draws_the_same_random_values_and_plants_nothing_new():
    ctx = context()
    first = expand("{{canary}}-{{unique}}", ctx)

    replay = Context(
        ctx.values, randomness=ctx.randomness.replay(), canaries=ctx.canaries
    )
    assert expand("{{canary}}-{{unique}}", replay) == first
    assert len(ctx.canaries) == 1


def test_overrides_replace_a_variable_everywhere_it_is_read():
    ctx = context(theirs="ag_1", form=Template("{{theirs}}/"))
    ctx.overrides = {"theirs": "ag_2"}

    assert expand("{{form}}", ctx) == "ag_2/"


def test_a_fact_the_profile_does_not_give_is_unavailable():
    ctx = context(target=Facts(base_url="http://x"))

    assert expand("{{target.base_url}}", ctx) == "http://x"
    with pytest.raises(Unavailable, match="does not provide 'jwt_key'"):
        expand("{{target.jwt_key}}", ctx)


def test_names_in_finds_the_root_variables():
    value = {"{{header}}": ["{{victim.tenant}}", "x {{theirs | upper}}"], "n": 1}

    assert names_in(value) == {"header", "victim", "theirs"}
