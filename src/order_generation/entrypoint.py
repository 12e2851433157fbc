"""``ogs serve``: the API under Uvicorn, optionally with the sandbox GlobeCo services."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import structlog
import uvicorn

from order_generation.api.app import create_app
from order_generation.api.http_protocol import ErrorShapeHttpProtocol
from order_generation.config import Settings, get_settings, service_url_fields
from order_generation.log_setup import configure_logging

log = structlog.get_logger(__name__)


def serve(*, with_sandbox: bool = False, sandbox_data: str | None = None) -> int:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    with ExitStack() as stack:
        if with_sandbox or sandbox_data:
            settings = stack.enter_context(sandbox_wired(settings, sandbox_data))
        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_config=None,
            proxy_headers=True,
            http=ErrorShapeHttpProtocol,
            server_header=False,  # no version banner (SPEC §10)
        )
    return 0


@contextmanager
def sandbox_wired(settings: Settings, data_file: str | None) -> Iterator[Settings]:
    """Runs the simulated GlobeCo services in this process (a background thread) on generated
    data, or on ``data_file``, and yields ``settings`` with every service URL pointing at them."""
    from order_generation.sandbox import (
        SandboxDataError,
        create_sandbox_app,
        generate_data,
        load_data,
        start_sandbox_in_thread,
    )

    try:
        data = (
            load_data(data_file)
            if data_file
            else generate_data(
                settings.sandbox_portfolios, settings.sandbox_positions, settings.sandbox_seed
            )
        )
    except SandboxDataError as error:
        raise SystemExit(f"ogs serve: {error}") from error
    try:
        running = start_sandbox_in_thread(
            create_sandbox_app(data), "127.0.0.1", settings.sandbox_port
        )
    except OSError as error:
        raise SystemExit(
            f"ogs serve: cannot start the sandbox on port {settings.sandbox_port} ({error}); "
            "set OGS_SANDBOX_PORT to a free port (0 picks one)"
        ) from error
    url = running.url
    log.info(
        "sandbox GlobeCo services started",
        url=url,
        portfolios=len(data.portfolios),
        securities=len(data.securities),
    )
    print(
        f"\n  GlobeCo sandbox: {url}   (its portfolios: curl {url}/api/v1/portfolios)\n"
        f"  Service API:     http://{settings.host}:{settings.port}/docs\n",
        file=sys.stderr,
        flush=True,
    )
    try:
        yield settings.model_copy(update=dict.fromkeys(service_url_fields(), url))
    finally:
        running.stop()
