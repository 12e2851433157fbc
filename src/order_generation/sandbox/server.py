"""``ogs sandbox serve``: the simulated GlobeCo services on one port, from a data file."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import uvicorn

from order_generation.config import service_url_fields
from order_generation.sandbox.app import create_sandbox_app
from order_generation.sandbox.datafile import SandboxDataError, load_data
from order_generation.sandbox.generate import generate_data

# The environment variables that point the service at a sandbox (all five services share it).
SERVICE_URL_VARIABLES = tuple(f"OGS_{field.upper()}" for field in service_url_fields())


def serve_sandbox(
    data_path: str | Path | None,
    host: str = "127.0.0.1",
    port: int = 8099,
    random_prices: bool = False,
    generate: tuple[int, int, int] = (30, 20, 1),
) -> int:
    """Serve the sandbox on ``data_path`` (or on data generated from ``generate`` =
    (portfolios, positions, seed) when it is None) until interrupted; the exit code (2: bad
    data file)."""
    try:
        data = load_data(data_path) if data_path is not None else generate_data(*generate)
    except (SandboxDataError, ValueError) as exc:
        print(f"ogs sandbox serve: {exc}", file=sys.stderr)
        return 2
    app = create_sandbox_app(data, random_prices=random_prices)
    # The data set lives as long as the process: the cyclic collector need never scan it (at
    # 10^5 portfolios × 100 holdings it is ~10^7 objects, and full collections would cost more
    # than answering the requests).
    gc.freeze()
    url = f"http://{host}:{port}"
    print(
        f"GlobeCo sandbox on {url}: {len(data.securities)} securities, {len(data.prices)} "
        f"prices{' (random draws)' if random_prices else ''}, {len(data.portfolios)} portfolios.\n"
        "Point the service at it with:\n"
        + "".join(f"  export {name}={url}\n" for name in SERVICE_URL_VARIABLES),
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
    return 0
