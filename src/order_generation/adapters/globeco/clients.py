"""All GlobeCo clients, wired once: one pooled ``httpx.AsyncClient`` shared by one client per
service, each service with its own circuit breaker."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import TracebackType

import httpx

from order_generation.adapters.globeco import accounting, order, portfolio, pricing, security
from order_generation.adapters.globeco._breaker import CircuitBreaker, CircuitState
from order_generation.adapters.globeco._http import LastOutcome, RetryPolicy, ServiceHttp
from order_generation.adapters.globeco.accounting import PortfolioAccountingClient
from order_generation.adapters.globeco.order import OrderClient
from order_generation.adapters.globeco.portfolio import PortfolioClient
from order_generation.adapters.globeco.pricing import PricingClient
from order_generation.adapters.globeco.security import SecurityClient
from order_generation.config import Settings
from order_generation.observability import correlation

# Generous: a model rebalance runs many portfolios concurrently against the same services.
POOL_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50)


class GlobecoClients:
    """The clients the rebalancing use case needs; close with ``aclose()`` or ``async with``."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        accounting: PortfolioAccountingClient,
        security: SecurityClient,
        pricing: PricingClient,
        portfolio: PortfolioClient,
        order: OrderClient,
        services: Mapping[str, ServiceHttp] | None = None,
    ) -> None:
        self.http = http
        self.accounting = accounting
        self.security = security
        self.pricing = pricing
        self.portfolio = portfolio
        self.order = order
        self._services = dict(services or {})

    @classmethod
    def from_settings(
        cls, settings: Settings, *, clock: Callable[[], float] = time.monotonic
    ) -> GlobecoClients:
        """Clients for the base URLs, timeout, retry, breaker and cache settings."""
        # trust_env=False: calls between GlobeCo services must not go through a proxy that
        # happens to be configured in the environment.
        http = httpx.AsyncClient(
            timeout=settings.http_timeout_seconds,
            limits=POOL_LIMITS,
            trust_env=False,
            headers={"User-Agent": "globeco-order-generation-service"},
            event_hooks={"request": [_send_correlation_id]},
        )
        retry = RetryPolicy(
            attempts=settings.http_attempts,
            backoff_initial_seconds=settings.http_backoff_initial_seconds,
            backoff_max_seconds=settings.http_backoff_max_seconds,
        )

        def service(name: str, base_url: str) -> ServiceHttp:
            breaker = CircuitBreaker(
                settings.circuit_failure_threshold, settings.circuit_reset_seconds, clock=clock
            )
            return ServiceHttp(
                name,
                base_url,
                http,
                timeout_seconds=settings.http_timeout_seconds,
                retry=retry,
                breaker=breaker,
            )

        services = {
            accounting.SERVICE: service(accounting.SERVICE, settings.portfolio_accounting_url),
            security.SERVICE: service(security.SERVICE, settings.security_url),
            pricing.SERVICE: service(pricing.SERVICE, settings.pricing_url),
            portfolio.SERVICE: service(portfolio.SERVICE, settings.portfolio_url),
            order.SERVICE: service(order.SERVICE, settings.order_url),
        }
        return cls(
            http=http,
            accounting=PortfolioAccountingClient(services[accounting.SERVICE]),
            security=SecurityClient(
                services[security.SERVICE],
                ttl_seconds=settings.security_cache_ttl_seconds,
                clock=clock,
            ),
            pricing=PricingClient(services[pricing.SERVICE]),
            portfolio=PortfolioClient(
                services[portfolio.SERVICE],
                ttl_seconds=settings.portfolio_names_cache_ttl_seconds,
                clock=clock,
            ),
            order=OrderClient(services[order.SERVICE]),
            services=services,
        )

    def circuit_states(self) -> dict[str, CircuitState]:
        """Each service's circuit: "closed", "open" or "half_open" (for health and metrics)."""
        return {name: svc.breaker.state for name, svc in self._services.items()}

    def last_outcomes(self) -> dict[str, LastOutcome | None]:
        """How the last call to each service ended (None: not called yet)."""
        return {name: svc.last_outcome for name, svc in self._services.items()}

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> GlobecoClients:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


async def _send_correlation_id(request: httpx.Request) -> None:
    # Every GlobeCo call made for a request carries that request's correlation id.
    current = correlation.correlation_id()
    if current is not None:
        request.headers[correlation.CORRELATION_HEADER] = current
