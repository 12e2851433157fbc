"""The machine-readable reasons for not returning an answer."""

from __future__ import annotations

from decimal import Decimal

from order_generation.domain.optimizer._exact import UnitBounds, plain
from order_generation.domain.optimizer._problem import Infeasibility, SecurityTarget


def non_positive_price(security: SecurityTarget) -> Infeasibility:
    return Infeasibility(
        kind="non_positive_price",
        message=f"security {security.security_id}: price {plain(security.price)} is not positive",
        security_id=security.security_id,
        details={"price": plain(security.price)},
    )


def negative_market_value(market_value: Decimal) -> Infeasibility:
    return Infeasibility(
        kind="negative_market_value",
        message=f"market value {plain(market_value)} is negative: no holdings keep cash ≥ 0",
        details={"market_value": plain(market_value)},
    )


def empty_band(security: SecurityTarget, bounds: UnitBounds, empty_count: int) -> Infeasibility:
    low, high, price = plain(bounds.low), plain(bounds.high), plain(security.price)
    return Infeasibility(
        kind="empty_band",
        message=(
            f"security {security.security_id}: band [{low}, {high}] of value holds no whole "
            f"unit at price {price}"
        ),
        security_id=security.security_id,
        details={
            "band_low": low,
            "band_high": high,
            "price": price,
            "securities_with_empty_band": str(empty_count),
        },
    )


def minimum_spend(minimum: Decimal, market_value: Decimal) -> Infeasibility:
    return Infeasibility(
        kind="minimum_spend_exceeds_market_value",
        message=(
            f"the fewest whole units every band admits cost {plain(minimum)}, more than the "
            f"market value {plain(market_value)}"
        ),
        details={"minimum_spend": plain(minimum), "market_value": plain(market_value)},
    )


def timeout(time_limit_seconds: float) -> Infeasibility:
    return Infeasibility(
        kind="timeout",
        message=(
            f"cash binds and no proven optimum was found within the time limit of "
            f"{time_limit_seconds:g} s"
        ),
        details={"time_limit_seconds": f"{time_limit_seconds:g}"},
    )
