"""The GlobeCo sandbox: simulated Portfolio Accounting, Security, Pricing, Portfolio and Order
services over real HTTP, on generated or file-based data, with fault injection (docs/sandbox.md).
"""

from __future__ import annotations

from order_generation.sandbox.app import create_sandbox_app
from order_generation.sandbox.datafile import (
    SandboxDataError,
    dumps_data,
    load_data,
    parse_data,
    write_data,
)
from order_generation.sandbox.generate import generate_data, write_data_file
from order_generation.sandbox.model import (
    SandboxData,
    SandboxHolding,
    SandboxPortfolio,
    SandboxPrice,
    SandboxSecurity,
)
from order_generation.sandbox.runner import RunningSandbox, start_sandbox_in_thread
from order_generation.sandbox.server import SERVICE_URL_VARIABLES, serve_sandbox

__all__ = [
    "SERVICE_URL_VARIABLES",
    "RunningSandbox",
    "SandboxData",
    "SandboxDataError",
    "SandboxHolding",
    "SandboxPortfolio",
    "SandboxPrice",
    "SandboxSecurity",
    "create_sandbox_app",
    "dumps_data",
    "generate_data",
    "load_data",
    "parse_data",
    "serve_sandbox",
    "start_sandbox_in_thread",
    "write_data",
    "write_data_file",
]
