"""Running the stack: `serve(settings)` behind uvicorn.

`python -m stack` and `tenantguard stack serve` both end here.
"""

from __future__ import annotations

import logging

import uvicorn

from stack.app import create_app
from stack.settings import Settings

log = logging.getLogger("tenantguard.stack")

DEFAULT_PORT = 8000


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    log_level: str = "info",
) -> None:
    """Serve the stack until interrupted.

    uvicorn's Date and Server headers are off so that two answers differ only
    in X-Request-ID, and forwarded headers are not trusted (the stack never
    takes identity from them).
    """
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
        proxy_headers=False,
        server_header=False,
        date_header=False,
    )
