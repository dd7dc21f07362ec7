"""Finding the pinned tools, and the local services the tests start."""

from __future__ import annotations

import sqlalchemy as sa

from harness import tools
from harness.services import OpaProcess


def test_environment_override_wins(tmp_path, monkeypatch):
    fake = tmp_path / "opa"
    fake.write_text("#!/bin/sh\n")
    monkeypatch.setenv("TENANTGUARD_OPA", str(fake))
    assert tools.find("opa") == fake


def test_override_to_a_missing_file_finds_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("TENANTGUARD_OPA", str(tmp_path / "missing"))
    assert tools.find("opa") is None


def test_missing_tool_help_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("TENANTGUARD_TOOLS", str(tmp_path))
    text = tools.missing_help(tools.OPA)
    assert "opa v1.22.4 was not found" in text
    assert "harness.tools install opa" in text


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TENANTGUARD_TOOLS", str(tmp_path))
    assert tools.OPA.binary == tmp_path / "opa-v1.22.4" / "opa"


def test_opa_process_listens_on_loopback_only(opa_server):
    assert opa_server.url.startswith("http://127.0.0.1:")
    assert "--addr" in opa_server.command()


def test_opa_process_stops(opa_binary, policy_dir):
    opa = OpaProcess(policy_dir, binary=opa_binary)
    opa.start()
    assert opa.is_running()
    opa.stop()
    assert not opa.is_running()


def test_postgres_cluster_answers_on_loopback(postgres):
    engine = sa.create_engine(postgres.url())
    with engine.connect() as connection:
        assert (
            connection.execute(
                sa.text("select current_setting('listen_addresses')")
            ).scalar()
            == "127.0.0.1"
        )
    engine.dispose()
