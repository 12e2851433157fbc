"""``ogs serve``: the API under Uvicorn."""

from __future__ import annotations

import uvicorn

from order_generation.api.app import create_app
from order_generation.config import get_settings
from order_generation.log_setup import configure_logging


def serve(*, with_sandbox: bool = False, sandbox_data: str | None = None) -> int:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    if with_sandbox or sandbox_data:
        raise SystemExit("ogs serve --sandbox is not available yet")
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        proxy_headers=True,
    )
    return 0
