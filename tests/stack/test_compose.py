"""docker-compose.yml cannot run here (no Docker engine), so its promises are
read and checked: what it mounts exists, OPA listens on all interfaces of
its container, and the stack runs as a role that cannot bypass RLS."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_every_mounted_file_exists():
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"


def test_opa_serves_the_policies_on_all_container_interfaces():
    command = compose()["services"]["opa"]["command"]
    assert command[command.index("--addr") + 1] == "0.0.0.0:8181"
    assert "/policies" in command


def test_published_ports_bind_to_loopback_only():
    for name, service in compose()["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (
                f"{name} publishes {port} beyond loopback"
            )


def test_stack_runs_as_the_app_role_and_the_owner_only_creates_tables():
    environment = compose()["services"]["stack"]["environment"]
    app = make_url(environment["TENANTGUARD_DB_URL"])
    owner = make_url(environment["TENANTGUARD_DB_OWNER_URL"])
    init_sql = (REPO / "stack" / "postgres-init.sql").read_text()
    assert app.username != owner.username
    assert f"CREATE ROLE {app.username} LOGIN" in init_sql
    assert "NOBYPASSRLS" in init_sql and "NOSUPERUSER" in init_sql
