"""Running the stack: `serve(settings)` behind uvicorn.

`python -m stack` and `tenantguard stack serve` both end here.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import uvicorn

from enforcement import UsageError
from stack.app import create_app
from stack.db import connect, create_schema
from stack.settings import ENVIRONMENT, Settings

log = logging.getLogger("tenantguard.stack")

DEFAULT_PORT = 8000


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    log_level: str = "info",
    workers: int = 1,
) -> None:
    """Serve the stack until interrupted, in `workers` processes.

    uvicorn's Date and Server headers are off so that two answers differ only
    in X-Request-ID, and forwarded headers are not trusted (the stack never
    takes identity from them).
    """
    if workers > 1:
        return _serve_workers(settings, host, port, log_level, workers)
    app = create_app(settings)
    log.info(
        "stack on http://%s:%s (engine %s, variant %s, database %s)",
        host,
        port,
        settings.engine,
        settings.variant,
        settings.db_url_redacted,
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,  # the stack logs one line per request itself
        **UVICORN_OPTIONS,
    )


UVICORN_OPTIONS = {"proxy_headers": False, "server_header": False, "date_header": False}
WORKER_HEALTHCHECK_SECONDS = 60


def _serve_workers(settings, host, port, log_level, workers) -> None:
    """Several uvicorn processes, each building the stack from the environment.

    The schema is made once, here, before the workers would race to create it.
    Each worker holds its own policy engine: only OPA is shared by all of them.
    """
    if settings.engine != "opa":
        raise UsageError(
            f"{workers} workers need --engine opa: an embedded engine in each worker "
            "would not know the tenants created through another"
        )
    owner = connect(settings.db_owner_url) if settings.db_owner_url else None
    database = connect(settings.db_url)
    create_schema(database, owner)
    for engine in filter(None, (database, owner)):
        engine.dispose()
    os.environ.update(environment_of(settings))
    log.info("stack on http://%s:%s in %d workers", host, port, workers)
    uvicorn.run(
        "stack.server:app_from_environment",
        factory=True,
        workers=workers,
        # uvicorn kills a worker that misses a 5 s ping; on a starved machine
        # that killed busy, healthy workers (and their requests) mid-run.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        **UVICORN_OPTIONS,
    )


def app_from_environment():
    """uvicorn's factory in each worker process (see `_serve_workers`)."""
    return create_app(Settings.from_env())


def environment_of(settings: Settings) -> dict[str, str]:
    """The TENANTGUARD_* variables that rebuild `settings` in another process."""
    environment = {}
    for variable, (name, _) in ENVIRONMENT.items():
        value = getattr(settings, name)
        if value is None or value == "":
            continue
        text = value.hex() if isinstance(value, bytes) else str(value)
        environment[variable] = str(Path(value)) if isinstance(value, Path) else text
    return environment
