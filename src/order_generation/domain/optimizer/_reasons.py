"""The machine-readable reasons for not returning an answer."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal

from order_generation.domain.optimizer._exact import UnitBounds, plain
from order_generation.domain.optimizer._problem import Infeasibility, SecurityTarget
from order_generation.domain.trading_options import SecurityRules, TradingOptions

_ROUNDING = Context(prec=60, rounding=ROUND_HALF_UP)  # for percentages in messages only


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
    return band_without_units(security, bounds.low, bounds.high, empty_count)


def band_without_units(
    security: SecurityTarget, band_low: Decimal, band_high: Decimal, empty_count: int = 1
) -> Infeasibility:
    low, high, price = plain(band_low), plain(band_high), plain(security.price)
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


# --- under trading options (SPEC §8) -------------------------------------------------------------


def cash_flow_exceeds(cash_flow: Decimal, market_value: Decimal) -> Infeasibility:
    return Infeasibility(
        kind="cash_flow_exceeds_market_value",
        message=(
            f"cash_flow {plain(cash_flow)} exceeds the portfolio's value {plain(market_value)}: "
            "no holdings leave cash ≥ 0"
        ),
        details={"option": "cash_flow", "cash_flow": plain(cash_flow),
                 "market_value": plain(market_value)},
    )  # fmt: skip


def trade_rules(
    security: SecurityTarget,
    rules: SecurityRules,
    blamed: list[str],
    band_low: Decimal,
    band_high: Decimal,
) -> Infeasibility:
    """The lot and/or minimum trade (``blamed``, in that order) leave no holding in the band."""
    sid, price = security.security_id, plain(security.price)
    low, high = plain(band_low), plain(band_high)
    limits = {  # a lot is always blamed first, so only minimums follow it
        "min_trade_quantity": str(rules.min_trade_quantity),
        "min_trade_value": plain(rules.min_trade_value),
    }
    first = blamed[0]
    if first == "lot_sizes":
        kind, message = "lot_size", f"no multiple of lot {rules.lot} of {sid} fits its band"
    else:
        trade = (
            f"no trade of at least {limits[first]} units of {sid}"
            if first == "min_trade_quantity"
            else f"no trade of {sid} worth at least {limits[first]}"
        )
        kind, message = "min_trade", f"{trade} fits its band"
    also = [f"{name} {limits[name]}" for name in blamed[1:]]
    message += f" at {price}" + (f" (with {' and '.join(also)})" if also else "")
    message += (
        f": trades from the holding of {plain(security.quantity)} units must end in "
        f"[{low}, {high}] of value"
    )
    details = {"option": first, "options": ",".join(blamed), "price": price,
               "band_low": low, "band_high": high}  # fmt: skip
    return Infeasibility(kind, message, sid, details)


def restriction(
    options: TradingOptions, security: SecurityTarget, market_value: Decimal,
    band_low: Decimal, band_high: Decimal, budget: Decimal,
) -> Infeasibility:  # fmt: skip
    """A direction keeps a holding the cash row cannot carry, or that is not a holding at all
    (a negative quantity that may not be bought back)."""
    sid = security.security_id
    option, rule = direction(options, sid)
    value = security.quantity * security.price
    band = f"{percent(band_low, market_value)}–{percent(band_high, market_value)} %"
    if security.quantity < 0:
        tail = "a negative holding cannot reach 0 units without buying"
    else:
        tail = f"together with the rest it needs more than the {plain(budget)} the cash row allows"
    subject = f"{sid} is {rule} and" if option == "restrictions" else f"{sid}, under mode {rule},"
    return Infeasibility(
        kind="restriction",
        message=(
            f"{subject} holds {plain(security.quantity)} units worth "
            f"{percent(value, market_value)} % against a band of {band}: {tail}"
        ),
        security_id=sid,
        details={"option": option, "rule": rule, "quantity": plain(security.quantity),
                 "value": plain(value), "cash_row": plain(budget)},
    )  # fmt: skip


def cheapest_holdings_exceed(
    options: TradingOptions, minimum: Decimal, budget: Decimal
) -> Infeasibility:
    parts = []
    if options.cash_flow:
        parts.append(f"cash_flow {plain(options.cash_flow)}")
    if options.cash_reserve:
        parts.append(f"cash_reserve {plain(options.cash_reserve)}")
    after = f" after {' and '.join(parts)}" if parts else ""
    return Infeasibility(
        kind="minimum_spend_exceeds_market_value",
        message=(
            f"the fewest admissible units of every security cost {plain(minimum)}, more than the "
            f"{plain(budget)} the cash row allows{after}"
        ),
        details={"minimum_spend": plain(minimum), "cash_row": plain(budget),
                 "option": "cash_reserve" if options.cash_reserve else "cash_flow"},
    )  # fmt: skip


def relaxed(widen: Decimal) -> Infeasibility:
    return Infeasibility(
        kind="relaxed",
        message=(
            f"no whole-unit answer fits the bands; every band was widened by {plain(widen)} on "
            "both sides (on_infeasible: relax), the smallest widening on the 0.0001 grid that "
            "admits one"
        ),
        details={"relaxed_by": plain(widen)},
    )


def relax_cannot_help(blocked: Infeasibility) -> Infeasibility:
    return Infeasibility(
        kind=blocked.kind,
        message=f"{blocked.message} (on_infeasible: relax; no widening of the bands helps)",
        security_id=blocked.security_id,
        details=blocked.details,
    )


def direction(options: TradingOptions, security_id: str) -> tuple[str, str]:
    """The option and rule that forbid trading ``security_id`` one way."""
    restriction = options.restrictions.get(security_id)
    return ("restrictions", restriction) if restriction else ("mode", options.mode)


def percent(value: Decimal, whole: Decimal) -> str:
    """``value`` as a percentage of ``whole`` to two places, for messages."""
    if not whole:
        return "∞" if value else "0"
    share = _ROUNDING.divide(value * 100, whole).quantize(Decimal("0.01"), context=_ROUNDING)
    return plain(share)
