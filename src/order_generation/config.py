"""All settings of the service, in one place.

Every field can be overridden by an environment variable named ``OGS_<FIELD>`` (for example
``OGS_DATABASE_URL``). Settings are validated once, at start-up, so a bad value stops the process
with a clear message instead of failing later inside a request.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from order_generation.domain.optimizer import DEFAULT_TIME_LIMIT_SECONDS

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/ogs.db"

# Where the real GlobeCo services live inside the `globeco` Kubernetes namespace.
GLOBECO_URLS = {
    "portfolio_accounting": "http://globeco-portfolio-accounting-service:8087",
    "security": "http://globeco-security-service:8000",
    "pricing": "http://globeco-pricing-service:8083",
    "portfolio": "http://globeco-portfolio-service:8000",
    "order": "http://globeco-order-service:8081",
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OGS_", extra="ignore", frozen=True)

    # --- HTTP server -------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(default=8088, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["json", "console"] = "json"
    cors_origins: Annotated[list[str], NoDecode] = ["*"]
    trusted_hosts: Annotated[list[str], NoDecode] = ["*"]
    workers: int = Field(default=1, ge=1, le=64)
    shutdown_grace_seconds: float = Field(default=20.0, ge=0)
    max_inflight_rebalances: int = Field(default=128, ge=1)

    # --- Database ----------------------------------------------------------------------------
    database_url: str = DEFAULT_DATABASE_URL
    database_echo: bool = False
    database_timeout_seconds: float = Field(default=5.0, gt=0, le=600)
    migrate_on_start: bool = True

    # --- GlobeCo services --------------------------------------------------------------------
    portfolio_accounting_url: str = GLOBECO_URLS["portfolio_accounting"]
    security_url: str = GLOBECO_URLS["security"]
    pricing_url: str = GLOBECO_URLS["pricing"]
    portfolio_url: str = GLOBECO_URLS["portfolio"]
    order_url: str = GLOBECO_URLS["order"]
    http_timeout_seconds: float = Field(default=10.0, gt=0)
    http_attempts: int = Field(default=3, ge=1, le=10)
    http_backoff_initial_seconds: float = Field(default=0.2, ge=0)
    http_backoff_max_seconds: float = Field(default=2.0, ge=0)
    circuit_failure_threshold: int = Field(default=5, ge=1)
    circuit_reset_seconds: float = Field(default=30.0, gt=0)
    security_cache_ttl_seconds: float = Field(default=600.0, ge=0)
    portfolio_names_cache_ttl_seconds: float = Field(default=60.0, ge=0)
    optional_lookup_timeout_seconds: float = Field(default=1.0, gt=0)

    # --- Demo sandbox (ogs serve --sandbox) ---------------------------------------------------
    sandbox_port: int = Field(default=8099, ge=0, le=65535)
    sandbox_portfolios: int = Field(default=30, ge=1, le=100_000)
    sandbox_positions: int = Field(default=20, ge=1, le=500)
    sandbox_seed: int = 1

    # --- Rebalancing -------------------------------------------------------------------------
    optimizer_timeout_seconds: float = Field(default=DEFAULT_TIME_LIMIT_SECONDS, gt=0)
    rebalance_concurrency: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)

    # --- Rebalance jobs (SPEC §9) -------------------------------------------------------------
    # Portfolios per chunk: what one worker computes, stores and holds in memory at a time.
    job_chunk_portfolios: int = Field(default=200, ge=1, le=10_000)
    # Whether API processes also take job chunks (PostgreSQL); `ogs worker` processes always do.
    in_process_workers: bool = True
    # Chunks one worker process computes at once.
    job_worker_concurrency: int = Field(default=2, ge=1, le=64)
    # A chunk that fails on an unavailable service is tried this many times in all.
    job_chunk_attempts: int = Field(default=5, ge=1, le=100)
    # A worker silent for this long is presumed dead and its chunks are taken again.
    job_stalled_seconds: float = Field(default=30.0, ge=1)

    @field_validator("cors_origins", "trusted_hosts", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        # Environment variables are plain text: accept "a,b" as well as a JSON list.
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value


def service_url_fields() -> tuple[str, ...]:
    """The settings that hold the GlobeCo base URLs (``portfolio_accounting_url``, …)."""
    return tuple(f"{service}_url" for service in GLOBECO_URLS)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
