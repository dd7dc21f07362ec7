"""The coverage table, generated from the scenario files' tags."""

from __future__ import annotations

from harness import coverage, techniques
from harness.cli import main

TWO = """\
id: two
title: Two techniques
technique: [A1, G44]
requires: [export]
resource: "{{resource}}"
matrix:
  resource: [agent, file]
attack:
  - request: {method: GET, path: /x}
"""


def test_rows_count_items_and_resources_per_technique(load):
    table = coverage.rows([load(TWO)])

    assert table["A1"].scenarios == {"two": 2}
    assert table["G44"].resources == {"agent", "file"}
    assert table["G44"].conditional == {"two"}
    assert table["A2"].scenarios == {}


def test_the_markdown_lists_every_technique_and_the_gaps(load):
    text = coverage.markdown([load(TWO)])

    assert text.startswith(coverage.HEADER)
    assert (
        "| A1 | Replay a request for B's object with A's token | `two`* (2) |" in text
    )
    assert "| A2 | Enumerate IDs" in text and "| **gap** |" in text
    gaps = text.split("## Gaps")[1]
    assert "- A2: Enumerate IDs" in gaps and "- A1:" not in gaps
    assert sum(line.startswith("| ") for line in text.splitlines()) == 52


def test_the_shipped_catalogue_leaves_only_the_groups_others_build(repo):
    loaded = coverage.load_all([repo / "scenarios"])

    missing = coverage.gaps(coverage.rows(loaded))

    assert {one[0] for one in missing} <= {"E", "F", "H"}
    assert all(
        technique in coverage.rows(loaded) for technique in techniques.all_techniques()
    )


def test_the_committed_coverage_table_is_up_to_date(repo, capsys):
    document = repo / "docs" / "scenario-coverage.md"

    code = main(
        ["coverage", str(repo / "scenarios"), "--output", str(document), "--check"]
    )

    assert code == 0, capsys.readouterr().err


def test_check_fails_on_a_stale_table(repo, tmp_path, capsys):
    stale = tmp_path / "coverage.md"
    stale.write_text("old\n")

    code = main(
        ["coverage", str(repo / "scenarios"), "--output", str(stale), "--check"]
    )

    assert code == 1
    assert (
        "regenerate it with `tenantguard coverage --output" in capsys.readouterr().err
    )
    assert stale.read_text() == "old\n"
