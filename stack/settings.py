"""The stack's settings: one frozen value, built in code or from the environment.

Secrets (operator key, JWT signing secret, key-encryption key) never appear in
a `repr`. `Settings.from_env()` reads `TENANTGUARD_*` variables; a secret that
is not set there is read from (or generated once into) a file private to the
storage directory, so a restarted stack can still unwrap its tenants' keys.

The key-encryption key (KEK) comes from, in this order: AWS KMS
(`TENANTGUARD_KMS_KEY_ID`, extra `kms`), a key file (`TENANTGUARD_KEK_FILE`),
`TENANTGUARD_KEK`, or the stored secrets file.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from enforcement import UsageError
from enforcement.keys import AwsKmsKek, KeyEncryptionKey, LocalKek
from stack.variants import VARIANTS

ENGINE_KINDS = ("embedded", "opa")
MIB = 1024 * 1024
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POLICY_DIR = REPO_ROOT / "policies"
DEFAULT_STORAGE_DIR = Path(tempfile.gettempdir()) / "tenantguard-stack"
SECRETS_FILE = "stack-secrets.json"
SECRET_NAMES = frozenset({"operator_key", "jwt_secret", "key_encryption_key"})
MIN_SECRET_BYTES = 32


def _random_secret() -> str:
    return secrets.token_urlsafe(MIN_SECRET_BYTES)


def _random_kek() -> bytes:
    return os.urandom(32)


@dataclass(frozen=True)
class Settings:
    engine: str = "embedded"
    opa_url: str = "http://127.0.0.1:8181"
    policy_dir: Path = DEFAULT_POLICY_DIR
    storage_dir: Path = DEFAULT_STORAGE_DIR
    db_url: str = ""  # empty: SQLite at {storage_dir}/stack.db
    # PostgreSQL: a URL as the role that owns the tables, which creates them
    # and their row-level security; db_url is then the application role.
    db_owner_url: str = field(default="", repr=False)
    variant: str = "correct"
    max_body_bytes: int = MIB
    max_file_bytes: int = 5 * MIB
    operator_key: str = field(default_factory=_random_secret, repr=False)
    jwt_secret: str = field(default_factory=_random_secret, repr=False)
    key_encryption_key: bytes = field(default_factory=_random_kek, repr=False)
    kek_file: Path | None = None
    kms_key_id: str = ""
    # Tenants created at start when the database does not hold them yet (the
    # database wins afterwards: change a tenant with PATCH /admin/tenants/{id}).
    tenants_file: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "policy_dir", Path(self.policy_dir))
        object.__setattr__(self, "storage_dir", Path(self.storage_dir))
        for name in ("kek_file", "tenants_file"):
            value = getattr(self, name)
            object.__setattr__(self, name, None if value is None else Path(value))
        if not self.db_url:
            sqlite_path = self.storage_dir / "stack.db"
            object.__setattr__(self, "db_url", f"sqlite:///{sqlite_path}")
        self._check()

    def _check(self) -> None:
        if self.engine not in ENGINE_KINDS:
            raise UsageError(
                f"engine must be one of {ENGINE_KINDS}, got {self.engine!r}"
            )
        if self.variant not in VARIANTS:
            raise UsageError(
                f"variant must be one of {sorted(VARIANTS)}, got {self.variant!r}"
            )
        if len(self.key_encryption_key) != 32:
            raise UsageError("the key-encryption key must be 32 bytes (64 hex digits)")
        if len(self.jwt_secret.encode()) < MIN_SECRET_BYTES:
            raise UsageError(
                f"the JWT secret must be at least {MIN_SECRET_BYTES} bytes"
            )
        if not self.operator_key:
            raise UsageError("the operator key must not be empty")

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] = os.environ, **overrides: Any
    ) -> Settings:
        """Settings from TENANTGUARD_* variables (see `ENVIRONMENT`), then
        `overrides` (None means "not given"), then the stored secrets."""
        values = {
            name: convert(environ[variable], variable)
            for variable, (name, convert) in ENVIRONMENT.items()
            if environ.get(variable)
        }
        values.update(
            {name: value for name, value in overrides.items() if value is not None}
        )
        missing = SECRET_NAMES - set(values)
        if missing:
            stored = stored_secrets(
                Path(values.get("storage_dir", DEFAULT_STORAGE_DIR))
            )
            values.update({name: stored[name] for name in missing})
        return cls(**values)

    def kek(self) -> KeyEncryptionKey:
        """The key-encryption key these settings name (see the module's doc)."""
        if self.kms_key_id:
            return AwsKmsKek(self.kms_key_id)
        if self.kek_file is not None:
            return LocalKek.from_file(self.kek_file)
        return LocalKek(self.key_encryption_key)

    @property
    def secrets_file(self) -> Path:
        return self.storage_dir / SECRETS_FILE

    @property
    def db_url_redacted(self) -> str:
        """The database URL with its password, if any, masked."""
        return make_url(self.db_url).render_as_string(hide_password=True)

    def __repr__(self) -> str:
        shown = [
            f"{item.name}={getattr(self, item.name)!r}"
            for item in fields(self)
            if item.repr and item.name != "db_url"
        ]
        return f"Settings({', '.join(shown)}, db_url={self.db_url_redacted!r})"


def _integer(text: str, variable: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{variable} must be an integer, got {text!r}") from None


def _hex_key(text: str, variable: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise UsageError(
            f"{variable} must be 64 hex digits (e.g. from `openssl rand -hex 32`)"
        ) from None


def _text(text: str, variable: str) -> str:
    return text


def _path(text: str, variable: str) -> Path:
    return Path(text)


ENVIRONMENT = {
    "TENANTGUARD_ENGINE": ("engine", _text),
    "TENANTGUARD_OPA_URL": ("opa_url", _text),
    "TENANTGUARD_POLICY_DIR": ("policy_dir", _path),
    "TENANTGUARD_STORAGE_DIR": ("storage_dir", _path),
    "TENANTGUARD_DB_URL": ("db_url", _text),
    "TENANTGUARD_DB_OWNER_URL": ("db_owner_url", _text),
    "TENANTGUARD_VARIANT": ("variant", _text),
    "TENANTGUARD_MAX_BODY_BYTES": ("max_body_bytes", _integer),
    "TENANTGUARD_MAX_FILE_BYTES": ("max_file_bytes", _integer),
    "TENANTGUARD_OPERATOR_KEY": ("operator_key", _text),
    "TENANTGUARD_JWT_SECRET": ("jwt_secret", _text),
    "TENANTGUARD_KEK": ("key_encryption_key", _hex_key),
    "TENANTGUARD_KEK_FILE": ("kek_file", _path),
    "TENANTGUARD_KMS_KEY_ID": ("kms_key_id", _text),
    "TENANTGUARD_TENANTS_FILE": ("tenants_file", _path),
}


def stored_secrets(storage_dir: Path) -> dict[str, str | bytes]:
    """The secrets kept in `{storage_dir}/stack-secrets.json`, created once (0600)."""
    path = Path(storage_dir) / SECRETS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        stored = json.loads(path.read_text(encoding="utf-8"))
    else:
        stored = {
            "operator_key": _random_secret(),
            "jwt_secret": _random_secret(),
            "key_encryption_key": _random_kek().hex(),
        }
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(stored, file)
    stored["key_encryption_key"] = bytes.fromhex(stored["key_encryption_key"])
    return stored
