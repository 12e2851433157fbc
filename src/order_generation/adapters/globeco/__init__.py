"""HTTP clients for the GlobeCo services: Portfolio Accounting, Security, Pricing, Portfolio and
Order. Build them with ``GlobecoClients.from_settings(settings)``; each call retries transient
failures, fails fast through a per-service circuit breaker, and returns domain values or raises
``ServiceUnavailable`` / ``InvalidServiceResponse`` naming the service.
"""

from __future__ import annotations

from order_generation.adapters.globeco.accounting import PortfolioAccountingClient
from order_generation.adapters.globeco.clients import GlobecoClients
from order_generation.adapters.globeco.order import OrderClient, order_payload
from order_generation.adapters.globeco.portfolio import PortfolioClient
from order_generation.adapters.globeco.pricing import PricingClient
from order_generation.adapters.globeco.security import SecurityClient

__all__ = [
    "GlobecoClients",
    "OrderClient",
    "PortfolioAccountingClient",
    "PortfolioClient",
    "PricingClient",
    "SecurityClient",
    "order_payload",
]
