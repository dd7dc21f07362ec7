"""The pytest plugin, through pytester: what it collects, how it reports, and
that it stays out of the way of runs that have no scenarios."""

from __future__ import annotations

import json
import re
import shlex

import pytest

from harness.cli import plugin_arguments
from tests.harness.fakeapi import PROFILE, READ_SCENARIO, Bugs, FakeApi, FakeApiServer

pytest_plugins = ["pytester"]

OTHER_YAML = "name: not a scenario\nsteps: [1, 2]\n"


@pytest.fixture
def project(pytester):
    """A project with scenarios/, a profile and YAML files that are not scenarios."""
    pytester.makefile(".yaml", **{"scenarios/read": READ_SCENARIO})
    pytester.makefile(".yaml", **{"config/other": OTHER_YAML, "profile": PROFILE})
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    return pytester


def run(pytester, *args):
    return pytester.runpytest(*plugin_arguments(), "-p", "no:cacheprovider", *args)


@pytest.fixture
def server():
    with FakeApiServer(FakeApi()) as running:
        yield running


def test_only_yaml_under_a_scenarios_folder_is_collected(project):
    result = run(project, "--collect-only", "-q")

    result.stdout.fnmatch_lines(
        ["scenarios/read.yaml::read-foreign-agent", "test_plain.py::test_plain"]
    )
    assert "other.yaml" not in result.stdout.str()
    assert "profile.yaml" not in result.stdout.str()


def test_a_yaml_file_passed_explicitly_is_collected(project):
    project.makefile(".yaml", **{"attacks/mine": READ_SCENARIO})

    result = run(project, "--collect-only", "-q", "attacks/mine.yaml")

    result.stdout.fnmatch_lines(["attacks/mine.yaml::read-foreign-agent"])


def test_a_folder_given_with_tg_scenarios_is_collected(project):
    project.makefile(".yaml", **{"attacks/mine": READ_SCENARIO})

    result = run(
        project, "--collect-only", "-q", "--tg-scenarios", "attacks", "attacks"
    )

    result.stdout.fnmatch_lines(["attacks/mine.yaml::read-foreign-agent"])


def test_a_run_without_scenarios_needs_no_target(project):
    result = run(project, "test_plain.py")

    result.assert_outcomes(passed=1)
    assert "tenantguard scenarios" not in result.stdout.str()


def test_scenarios_without_a_base_url_are_a_usage_error(project, monkeypatch):
    monkeypatch.delenv("TENANTGUARD_BASE_URL", raising=False)

    result = run(project, "--tg-target", "profile.yaml", "scenarios")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*profile.yaml: no base URL for the target*", "*fix: pass --tg-base-url URL*"]
    )


def test_a_malformed_scenario_is_a_collection_error_with_file_line_and_fix(project):
    project.makefile(
        ".yaml", **{"scenarios/broken": READ_SCENARIO.replace("expect:", "expec:")}
    )

    result = run(project, "--collect-only", "-q")

    result.stdout.fnmatch_lines(
        [
            "*scenarios/broken.yaml:14: unknown key 'expec' in a step",
            "*fix: did you mean 'expect'?*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_an_isolated_target_passes_and_reports(project, server):
    result = run(
        project,
        "--tg-target",
        "profile.yaml",
        "--tg-base-url",
        server.url,
        "--tg-report",
        "out/report.json",
        "--junitxml",
        "out/junit.xml",
        "scenarios",
    )

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*tenantguard scenarios*",
            "technique*agent*exec*cred*file*conf*audit*other",
            "A1   Replay a request for B's object with A~*.*-*-*-*-*-*-",
            "1 passed, 0 breach, 0 error, 0 skipped",
        ]
    )
    assert "read-foreign-agent" not in result.stdout.str()  # passed items: -v
    report = json.loads((project.path / "out/report.json").read_text())
    assert report["summary"] == {"passed": 1, "breach": 0, "error": 0, "skipped": 0}
    assert [e["kind"] for e in report["items"][0]["exchanges"]][-3:] == [
        "attack",
        "control",
        "audit",
    ]
    assert 'name="technique" value="A1"' in (project.path / "out/junit.xml").read_text()


def test_verbose_runs_list_every_item(project, server):
    result = run(
        project,
        "-v",
        "--tg-target",
        "profile.yaml",
        "--tg-base-url",
        server.url,
        "scenarios",
    )

    result.stdout.fnmatch_lines(["read-foreign-agent*A1*agent*PASSED"])


def test_xdist_workers_draw_with_the_controllers_seed(project, server):
    from harness import template
    from harness.runner import item_rng
    from harness.scenario import load

    result = run(
        project,
        "-n",
        "2",
        "--tg-target",
        "profile.yaml",
        "--tg-base-url",
        server.url,
        "--tg-report",
        "report.json",
        "scenarios",
    )

    result.assert_outcomes(passed=1)
    report = json.loads((project.path / "report.json").read_text())
    scenario = load(project.path / "scenarios" / "read.yaml")
    canary = template.new_canary(
        item_rng(report["seed"], scenario, scenario.variants[0])
    )
    setup = next(e for e in report["items"][0]["exchanges"] if e["kind"] == "setup")
    assert canary in setup["curl"]


def test_a_breach_fails_with_the_finding_and_no_traceback(project, server):
    server.api.bugs = Bugs(no_tenant_check=True)

    result = run(
        project, "--tg-target", "profile.yaml", "--tg-base-url", server.url, "scenarios"
    )

    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "BREACH read-foreign-agent  (A1 | API1:2023 | agent)" in output
    assert "$ATTACKER_TOKEN" in output
    assert "Traceback" not in output and "runner.py" not in output


def test_an_unreachable_target_errors_without_a_traceback(project):
    result = run(
        project,
        "--tg-target",
        "profile.yaml",
        "--tg-base-url",
        "http://127.0.0.1:9",
        "scenarios",
    )

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*cannot reach the target at http://127.0.0.1:9*"])
    output = result.stdout.str()
    assert "Traceback" not in output
    assert "During handling of the above exception" not in output


def test_items_run_under_xdist_and_the_report_is_gathered(project, server):
    project.makefile(
        ".yaml",
        **{
            "scenarios/matrix": READ_SCENARIO.replace(
                "id: read-foreign-agent", "id: read-many\nmatrix:\n  n: [1, 2, 3, 4]"
            )
        },
    )
    server.api.bugs = Bugs(forbidden_not_404=True)

    result = run(
        project,
        "-n",
        "2",
        "--tg-target",
        "profile.yaml",
        "--tg-base-url",
        server.url,
        "--tg-report",
        "report.json",
        "scenarios",
    )

    result.assert_outcomes(failed=5)
    report = json.loads((project.path / "report.json").read_text())
    assert report["summary"]["breach"] == 5
    finding = report["items"][0]["findings"][0]
    assert finding["check"] == "expect.status" and "$ATTACKER_TOKEN" in finding["curl"]
    assert "BREACH read-many[1]" in result.stdout.str()


def test_an_item_rerun_alone_by_its_command_draws_the_same_values(project, server):
    project.makefile(
        ".yaml",
        **{
            "scenarios/matrix": READ_SCENARIO.replace(
                "id: read-foreign-agent", "id: read-many\nmatrix:\n  n: [1, 2, 3]"
            )
        },
    )
    target = ["--tg-target", "profile.yaml", "--tg-base-url", server.url]
    run(project, *target, "--tg-report", "all.json", "scenarios")
    whole = json.loads((project.path / "all.json").read_text())
    item = next(i for i in whole["items"] if i["name"] == "read-many[2]")

    words = shlex.split(item["rerun"])
    assert words[0] == "pytest" and "--tg-seed" in words
    run(project, *words[1:], *target, "--tg-report", "alone.json")

    alone = json.loads((project.path / "alone.json").read_text())
    assert [i["name"] for i in alone["items"]] == ["read-many[2]"]
    assert alone["seed"] == whole["seed"]

    def setup_body(entry):
        return next(e["curl"] for e in entry["exchanges"] if e["kind"] == "setup")

    assert _canaries(setup_body(alone["items"][0])) == _canaries(setup_body(item))


def _canaries(text: str) -> list[str]:
    return re.findall(r"cnry[0-9a-f]{16}", text)
