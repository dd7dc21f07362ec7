"""The declaration file: read from beside the policies, invisible to OPA, and
a bad one is a usage error naming the file, the line and the fix."""

from __future__ import annotations

import json
import subprocess

import pytest
import requests

from harness.invariants import declaration
from harness.invariants.declaration import DeclarationError
from harness.services import OpaProcess

SECTIONS = (
    "version",
    "tenants",
    "subject",
    "access",
    "storage",
    "limits",
    "features",
    "keys",
)


def run(*command) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, check=False
    )


def test_shipped_declaration_names_every_rule(policy_dir):
    loaded = declaration.load(declaration.find(policy_dir))
    assert loaded.families == ("access", "storage", "limits", "features", "keys")
    assert loaded.entry_point("storage") == "tenantguard/storage/decision"
    assert loaded.tenant_fields() == ("subject.tenant", "resource.tenant", "key.tenant")


def test_opa_eval_does_not_load_the_declaration_as_data(opa_binary, policy_dir):
    done = run(opa_binary, "eval", "--format", "raw", "--data", policy_dir, "data")
    assert done.returncode == 0, done.stderr
    assert not set(json.loads(done.stdout)) & set(SECTIONS)


def test_opa_run_does_not_load_the_declaration_as_data(opa_binary, policy_dir):
    with OpaProcess(policy_dir, binary=opa_binary) as opa:
        data = requests.get(f"{opa.url}/v1/data", timeout=5).json()["result"]
    assert not set(data) & set(SECTIONS)


def test_opa_check_strict_and_opa_test_pass_beside_the_declaration(
    opa_binary, policy_dir
):
    assert declaration.find(policy_dir).is_file()
    for command in (("check", "--strict"), ("test",)):
        done = run(opa_binary, *command, policy_dir)
        assert done.returncode == 0, done.stdout + done.stderr


def test_a_yaml_declaration_would_have_been_loaded_as_data(
    opa_binary, policy_dir, tmp_path
):
    # Why the file is TOML: OPA reads .yaml files, dot-files included, into
    # data, and a file at the top of the directory into data's root.
    (tmp_path / ".tenantguard-invariants.yaml").write_text("version: 1\n")
    done = run(opa_binary, "eval", "--format", "raw", "--data", tmp_path, "data")
    assert json.loads(done.stdout) == {"version": 1}


BROKEN = [
    # (what is done to the shipped file, the line named, words of the message)
    ("version = 1", "version = 2", 8, "version must be 1"),
    ('entry_point = "tenantguard/access/decision"', 'entry_point = "tenantguard access"', 19, "access.entry_point"),
    ('entry_point = "tenantguard/keys/decision"', 'entrypoint = "tenantguard/keys/decision"', 47,
     "unknown key 'entrypoint'"),
    ('key_id = "key.id"\n', "", 46, "[keys] has no key_id"),
    ('root = "storage/tenants/{tenant}/"', 'root = "storage/tenants/"', 32, "storage.root"),
    ('resource_tenant = "resource.tenant"', 'resource_tenant = "resource..tenant"', 24, "access.resource_tenant"),
    ('actions = ["read", "write", "delete"]', "actions = []", 30, "storage.actions"),
    ("[features]", "[feature]", 41, "unknown table [feature]"),
    ('feature = "feature"', 'feature = "feature', 43, "invalid TOML"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("find", "replace", "line", "words"), BROKEN, ids=[b[3] for b in BROKEN]
)
def test_bad_declaration_names_file_line_and_fix(
    policy_dir, tmp_path, find, replace, line, words
):
    text = declaration.find(policy_dir).read_text()
    assert text.count(find) == 1
    path = tmp_path / declaration.FILE_NAME
    path.write_text(text.replace(find, replace))

    with pytest.raises(DeclarationError) as caught:
        declaration.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert words in message and "\n  fix: " in message


def test_missing_declaration_says_how_to_write_one(tmp_path):
    with pytest.raises(
        DeclarationError,
        match="no declaration file.*\n  fix: copy policies/invariants.toml",
    ):
        declaration.load(declaration.find(tmp_path))
