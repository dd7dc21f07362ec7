"""`tenantguard policy check` as a command, and how a counterexample is
written as Rego."""

from __future__ import annotations

import argparse
import subprocess

from harness.invariants import main
from harness.invariants.render import rego_ref, rego_value
from tests.invariants.mutants import mutations

LIMITS = ["--invariant", "limit_boundary"]


def test_shipped_policies_pass_and_the_summary_counts_inputs(policy_dir, capsys):
    status = main(
        [str(policy_dir), "--engine", "embedded", "--examples", "25", *LIMITS]
    )
    out = capsys.readouterr().out
    assert status == 0, out
    assert "ok    limit_boundary" in out
    assert "1 invariants, 25 inputs" in out and "0 violated" in out


def test_broken_policies_fail_with_a_rego_test_and_an_eval_command(
    policy_dir, opa_binary, tmp_path, capsys
):
    mutation = next(m for m in mutations() if m.name == "limit_compared_with_greater")
    broken = mutation.apply(policy_dir, tmp_path / "policies")
    tests = tmp_path / "counterexamples_test.rego"

    status = main([str(broken), "--engine", "embedded", "--examples", "200",
                   *LIMITS, "--write-tests", str(tests)])  # fmt: skip
    out = capsys.readouterr().out
    assert status == 1, out
    assert (
        "FAIL  limit_boundary" in out
        and "test_limit_boundary_counterexample if {" in out
    )
    assert "opa eval --format pretty --data" in out and "wrote 1 Rego tests" in out
    done = subprocess.run(
        [str(opa_binary), "test", str(broken), str(tests)],
        capture_output=True,
        text=True,
    )
    assert (
        done.returncode != 0
        and "test_limit_boundary_counterexample: FAIL" in done.stdout
    )


def test_bad_declaration_exits_2_naming_the_line(policy_dir, tmp_path, capsys):
    declaration = tmp_path / "invariants.toml"
    text = (policy_dir / "invariants.toml").read_text()
    declaration.write_text(text.replace('key_id = "key.id"', "key_id = 7"))

    status = main(
        [str(policy_dir), "--engine", "embedded", "--declaration", str(declaration)]
    )
    err = capsys.readouterr().err
    assert status == 2
    assert (
        f"{declaration}:49: keys.key_id is 7\n  fix: write a dotted input path" in err
    )


def test_missing_policy_directory_exits_2(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere"), "--engine", "embedded"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_rego_value_escapes_what_a_reader_cannot_see():
    value = {
        "path": "a\u2215b\u0000c\u200b\U0001f600",
        "n": 2**64,
        "x": [None, True, 1.5],
    }
    text = rego_value(value)
    assert text == (
        '{"path": "a\\u2215b\\u0000c\\u200b\U0001f600", '
        '"n": 18446744073709551616, "x": [null, true, 1.5]}'
    )


def test_rego_ref_quotes_segments_that_are_not_identifiers():
    assert rego_ref("tenantguard/access/decision") == "data.tenantguard.access.decision"
    assert rego_ref("acme-rules/decision") == 'data["acme-rules"].decision'


def test_wired_as_a_subcommand_of_the_tenantguard_parser(policy_dir, capsys):
    from harness.invariants import cli

    top = argparse.ArgumentParser(prog="tenantguard")
    policy = top.add_subparsers(dest="command").add_parser("policy")
    check = policy.add_subparsers(dest="action").add_parser("check")
    cli.add_arguments(check)
    options = top.parse_args(["policy", "check", "--engine", "embedded", str(policy_dir),
                              "--examples", "5", "--invariant", "limit_boundary"])  # fmt: skip

    assert cli.run(options) == 0
    assert "ok    limit_boundary" in capsys.readouterr().out


def test_unknown_invariant_exits_2_before_any_run(policy_dir, capsys):
    status = main([str(policy_dir), "--engine", "embedded", "--invariant", "bogus"])
    captured = capsys.readouterr()
    assert status == 2 and captured.out == ""
    assert (
        "no invariant named 'bogus'; the invariants are cross_tenant_access"
        in captured.err
    )
