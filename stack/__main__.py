"""`python -m stack`: serve the reference stack.

Options override TENANTGUARD_* variables (see stack/settings.py). Secrets come
from the environment or from `{storage_dir}/stack-secrets.json`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from enforcement import TenantGuardError
from stack.server import DEFAULT_PORT, serve
from stack.settings import ENGINE_KINDS, Settings
from stack.variants import VARIANTS


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m stack", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--engine", choices=ENGINE_KINDS, help="policy engine (default embedded)"
    )
    parser.add_argument("--opa-url", help="OPA server URL, for --engine opa")
    parser.add_argument(
        "--policy-dir", type=Path, help="Rego policies, for --engine embedded"
    )
    parser.add_argument(
        "--db", dest="db_url", help="SQLAlchemy URL (default SQLite in the storage dir)"
    )
    parser.add_argument(
        "--storage-dir", type=Path, help="where files and the SQLite database live"
    )
    parser.add_argument(
        "--variant", choices=sorted(VARIANTS), help="a deliberately vulnerable build"
    )
    parser.add_argument(
        "--tenants-file",
        type=Path,
        help="tenants (YAML) to create at start if the database lacks them",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--log-level", default="info")
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn worker processes (OPA only)"
    )
    return parser


def settings_from(options: argparse.Namespace) -> Settings:
    names = (
        "engine",
        "opa_url",
        "policy_dir",
        "db_url",
        "storage_dir",
        "variant",
        "tenants_file",
    )
    return Settings.from_env(**{name: getattr(options, name) for name in names})


def main(argv: Sequence[str] | None = None) -> int:
    options = parser().parse_args(argv)
    logging.basicConfig(
        level=options.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = settings_from(options)
        logging.getLogger("tenantguard.stack").info(
            "secrets: environment or %s", settings.secrets_file
        )
        serve(
            settings,
            options.host,
            options.port,
            log_level=options.log_level,
            workers=options.workers,
        )
    except TenantGuardError as error:
        print(f"python -m stack: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
