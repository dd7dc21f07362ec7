"""Fixtures shared by every test: the repository, real OPA, policy data.

Tests that need OPA never skip: when the binary cannot be found they fail
with the command that installs it. CI installs it before running tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import tools
from harness.services import OpaProcess

REPO = Path(__file__).resolve().parent.parent
POLICY_DIR = REPO / "policies"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def policy_dir() -> Path:
    return POLICY_DIR


@pytest.fixture(scope="session")
def opa_binary() -> Path:
    found = tools.find("opa")
    if found is None:
        pytest.fail(tools.missing_help(tools.OPA), pytrace=False)
    return found


@pytest.fixture(scope="session")
def regal_binary() -> Path:
    found = tools.find("regal")
    if found is None:
        pytest.fail(tools.missing_help(tools.REGAL), pytrace=False)
    return found


@pytest.fixture(scope="session")
def tenant_data() -> dict:
    """The sample tenants, as the OPA data document."""
    return json.loads((REPO / "stack" / "tenants.json").read_text())


@pytest.fixture(scope="session")
def opa_server(opa_binary, policy_dir, tenant_data, tmp_path_factory):
    """One real OPA server for the session, with the shipped policies and data."""
    data_file = tmp_path_factory.mktemp("opa") / "data.json"
    data_file.write_text(json.dumps(tenant_data))
    with OpaProcess(policy_dir, [data_file], binary=opa_binary) as opa:
        yield opa


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL cluster for the session (initdb in a temp dir)."""
    from harness.services import PostgresCluster, find_postgres_bin

    try:
        bin_dir = find_postgres_bin()
    except Exception as exc:  # noqa: BLE001 - any failure to find it is a test failure
        pytest.fail(str(exc), pytrace=False)
    with PostgresCluster(bin_dir=bin_dir) as cluster:
        yield cluster
