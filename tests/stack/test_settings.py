"""Settings: from code or TENANTGUARD_* variables; secrets kept out of sight."""

from __future__ import annotations

import stat

import pytest

from enforcement import UsageError
from stack import Settings


def test_defaults_put_sqlite_in_the_storage_dir(tmp_path):
    settings = Settings(storage_dir=tmp_path)

    assert settings.db_url == f"sqlite:///{tmp_path / 'stack.db'}"
    assert (settings.engine, settings.variant) == ("embedded", "correct")
    assert (settings.max_body_bytes, settings.max_file_bytes) == (
        1024 * 1024,
        5 * 1024 * 1024,
    )


def test_secrets_are_in_no_repr(tmp_path):
    settings = Settings(storage_dir=tmp_path, operator_key="op-secret-value")

    assert "op-secret-value" not in repr(settings)
    assert settings.jwt_secret not in repr(settings)
    assert settings.key_encryption_key.hex() not in repr(settings)


def test_the_database_password_is_in_no_repr(tmp_path):
    settings = Settings(
        storage_dir=tmp_path, db_url="postgresql+psycopg://u:pw-42@db/tg"
    )

    assert "pw-42" not in repr(settings)
    assert "postgresql+psycopg://u:***@db/tg" in repr(settings)


def test_from_env_reads_every_variable(tmp_path):
    environ = {
        "TENANTGUARD_ENGINE": "opa",
        "TENANTGUARD_OPA_URL": "http://opa:8181",
        "TENANTGUARD_STORAGE_DIR": str(tmp_path),
        "TENANTGUARD_DB_URL": "postgresql+psycopg://u:p@db/tg",
        "TENANTGUARD_VARIANT": "forbidden_not_404",
        "TENANTGUARD_MAX_BODY_BYTES": "2048",
        "TENANTGUARD_OPERATOR_KEY": "op",
        "TENANTGUARD_JWT_SECRET": "j" * 32,
        "TENANTGUARD_KEK": "ab" * 32,
    }

    settings = Settings.from_env(environ)

    assert (settings.engine, settings.opa_url, settings.variant) == (
        "opa",
        "http://opa:8181",
        "forbidden_not_404",
    )
    assert (settings.db_url, settings.max_body_bytes) == (
        "postgresql+psycopg://u:p@db/tg",
        2048,
    )
    assert (settings.operator_key, settings.key_encryption_key) == (
        "op",
        bytes.fromhex("ab" * 32),
    )
    assert not settings.secrets_file.exists()


def test_missing_secrets_are_generated_once_into_a_private_file(tmp_path):
    environ = {"TENANTGUARD_STORAGE_DIR": str(tmp_path)}

    first, second = Settings.from_env(environ), Settings.from_env(environ)

    assert first.operator_key == second.operator_key
    assert first.key_encryption_key == second.key_encryption_key
    assert stat.S_IMODE(first.secrets_file.stat().st_mode) == 0o600


def test_overrides_win_over_the_environment(tmp_path):
    environ = {
        "TENANTGUARD_STORAGE_DIR": str(tmp_path),
        "TENANTGUARD_VARIANT": "file_cross_tenant",
    }

    settings = Settings.from_env(environ, variant="correct", engine=None)

    assert (settings.variant, settings.engine) == ("correct", "embedded")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TENANTGUARD_ENGINE", "magic"),
        ("TENANTGUARD_VARIANT", "no_such_variant"),
        ("TENANTGUARD_MAX_BODY_BYTES", "lots"),
        ("TENANTGUARD_KEK", "not-hex"),
        ("TENANTGUARD_KEK", "abcd"),
        ("TENANTGUARD_JWT_SECRET", "short"),
    ],
)
def test_a_bad_variable_is_a_usage_error(tmp_path, variable, value):
    environ = {"TENANTGUARD_STORAGE_DIR": str(tmp_path), variable: value}

    with pytest.raises(UsageError):
        Settings.from_env(environ)
