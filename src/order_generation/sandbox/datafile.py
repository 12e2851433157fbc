"""Reading and writing sandbox data files (format: docs/sandbox.md).

Validation is hand-written rather than pydantic: a 10,000 x 100 file has a million holdings, and
this keeps loading it to a couple of seconds while every error still names its exact location
(``portfolios[3].holdings[7].quantity: ...``). Numbers are read as exact decimals.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from order_generation.domain.ids import is_object_id
from order_generation.domain.numbers import exact_decimal
from order_generation.sandbox.model import (
    DEFAULT_PRICE_DATE,
    SandboxData,
    SandboxHolding,
    SandboxPortfolio,
    SandboxPrice,
    SandboxSecurity,
)

_HOLDING_FIELDS = frozenset({"security_id", "quantity"})
_T = TypeVar("_T")


class SandboxDataError(ValueError):
    """A sandbox data file (or object) that does not follow the documented format."""


def load_data(path: str | Path) -> SandboxData:
    """Read and validate a sandbox data file; ``SandboxDataError`` says what and where."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SandboxDataError(f"cannot read sandbox data file {path}: {exc.strerror}") from exc
    try:
        raw = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except ValueError as exc:
        raise SandboxDataError(f"{path}: not valid JSON: {exc}") from exc
    try:
        return parse_data(raw)
    except SandboxDataError as exc:
        raise SandboxDataError(f"{path}: {exc}") from exc


def parse_data(raw: object) -> SandboxData:
    """Validate an already-decoded data file.

    Numbers may be ``int``, ``Decimal`` or numeric strings (the rule of
    ``domain.numbers.exact_decimal``; floats are refused, their digits are already lost):
    decode with ``json.loads(text, parse_float=Decimal)``.
    """
    top = _object(
        raw, "the file", required={"securities", "prices", "portfolios"}, optional={"price_date"}
    )
    securities = tuple(_items(top["securities"], "securities", _security))
    prices = tuple(_items(top["prices"], "prices", _price))
    portfolios = tuple(_items(top["portfolios"], "portfolios", _portfolio))
    _unique((s.security_id for s in securities), "securities", "security_id")
    _unique((s.ticker for s in securities), "securities", "ticker")
    _unique((p.ticker for p in prices), "prices", "ticker")
    _unique((p.portfolio_id for p in portfolios), "portfolios", "portfolio_id")
    price_date = DEFAULT_PRICE_DATE
    if top.get("price_date") is not None:
        price_date = _date(top["price_date"], "price_date")
    return SandboxData(securities, prices, portfolios, price_date)


def write_data(data: SandboxData, path: str | Path) -> None:
    """Write ``data`` as a data file that ``load_data`` reads back unchanged."""
    with Path(path).open("w", encoding="utf-8") as out:
        out.writelines(_json_lines(data))


def dumps_data(data: SandboxData) -> str:
    """``data`` as data-file text."""
    return "".join(_json_lines(data))


def _json_lines(data: SandboxData) -> Iterator[str]:
    # One record per line: readable, diffable, and much faster than json.dumps on a million
    # holdings. Ids are validated hex, so only free text goes through json.dumps for escaping.
    yield f'{{\n"price_date": "{data.price_date.isoformat()}",\n"securities": [\n'
    yield ",\n".join(
        f'{{"security_id": "{s.security_id}", "ticker": {json.dumps(s.ticker)}, '
        f'"description": {json.dumps(s.description)}}}'
        for s in data.securities
    )
    yield '\n],\n"prices": [\n'
    yield ",\n".join(
        f'{{"ticker": {json.dumps(p.ticker)}, "close": {p.close}, "std": {p.std}}}'
        for p in data.prices
    )
    yield '\n],\n"portfolios": [\n'
    yield ",\n".join(_portfolio_json(p) for p in data.portfolios)
    yield "\n]\n}\n"


def _portfolio_json(p: SandboxPortfolio) -> str:
    holdings = ", ".join(
        f'{{"security_id": "{h.security_id}", "quantity": {h.quantity}}}' for h in p.holdings
    )
    cash = "null" if p.cash is None else str(p.cash)
    return (
        f'{{"portfolio_id": "{p.portfolio_id}", "name": {json.dumps(p.name)}, '
        f'"cash": {cash}, "holdings": [{holdings}]}}'
    )


# --- validation helpers ---------------------------------------------------------------------


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number")


def _security(raw: object, where: str) -> SandboxSecurity:
    item = _object(raw, where, required={"security_id", "ticker"}, optional={"description"})
    ticker = _text(item["ticker"], f"{where}.ticker")
    description = item.get("description")
    return SandboxSecurity(
        security_id=_object_id(item["security_id"], f"{where}.security_id"),
        ticker=ticker,
        description=ticker if description is None else _text(description, f"{where}.description"),
    )


def _price(raw: object, where: str) -> SandboxPrice:
    item = _object(raw, where, required={"ticker", "close"}, optional={"std"})
    close = _decimal(item["close"], f"{where}.close")
    if close <= 0:
        raise SandboxDataError(f"{where}.close: must be > 0, got {close}")
    std = Decimal(0) if item.get("std") is None else _decimal(item["std"], f"{where}.std")
    if std < 0:
        raise SandboxDataError(f"{where}.std: must be >= 0, got {std}")
    return SandboxPrice(ticker=_text(item["ticker"], f"{where}.ticker"), close=close, std=std)


def _portfolio(raw: object, where: str) -> SandboxPortfolio:
    item = _object(raw, where, required={"portfolio_id", "name"}, optional={"cash", "holdings"})
    cash = item.get("cash")
    holdings = tuple(_items(item.get("holdings", []), f"{where}.holdings", _holding))
    _unique((h.security_id for h in holdings), f"{where}.holdings", "security_id")
    return SandboxPortfolio(
        portfolio_id=_object_id(item["portfolio_id"], f"{where}.portfolio_id"),
        name=_text(item["name"], f"{where}.name"),
        cash=None if cash is None else _decimal(cash, f"{where}.cash"),
        holdings=holdings,
    )


def _holding(raw: object, where: str) -> SandboxHolding:
    # Fast path for the common, well-formed row (a big file has a million of them); the slow
    # path below explains anything else.
    if type(raw) is dict and raw.keys() == _HOLDING_FIELDS:
        security_id, quantity = raw["security_id"], raw["quantity"]
        if type(quantity) is int and type(security_id) is str and is_object_id(security_id):
            return SandboxHolding(security_id, Decimal(quantity))
    item = _object(raw, where, required=set(_HOLDING_FIELDS), optional=set())
    return SandboxHolding(
        _object_id(item["security_id"], f"{where}.security_id"),
        _decimal(item["quantity"], f"{where}.quantity"),
    )


def _items(raw: object, where: str, parse: Callable[[object, str], _T]) -> Iterator[_T]:
    if not isinstance(raw, list):
        raise SandboxDataError(f"{where}: expected a list, got {_kind(raw)}")
    for index, item in enumerate(raw):
        yield parse(item, f"{where}[{index}]")


def _object(raw: object, where: str, *, required: set[str], optional: set[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise SandboxDataError(f"{where}: expected an object, got {_kind(raw)}")
    missing = sorted(required - raw.keys())
    if missing:
        raise SandboxDataError(f"{where}: missing field(s) {', '.join(missing)}")
    unknown = sorted(raw.keys() - required - optional)
    if unknown:
        raise SandboxDataError(f"{where}: unknown field(s) {', '.join(unknown)}")
    return raw


def _text(raw: object, where: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise SandboxDataError(f"{where}: expected a non-empty string, got {_kind(raw)}")
    return raw


def _object_id(raw: object, where: str) -> str:
    if not isinstance(raw, str) or not is_object_id(raw):
        raise SandboxDataError(f"{where}: expected a 24-character hex id, got {raw!r}")
    return raw


def _decimal(raw: object, where: str) -> Decimal:
    try:
        return exact_decimal(raw)
    except ValueError as error:
        raise SandboxDataError(f"{where}: expected a number ({error}), got {_kind(raw)}") from None


def _date(raw: object, where: str) -> dt.date:
    if isinstance(raw, str):
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            pass
    raise SandboxDataError(f"{where}: expected a date YYYY-MM-DD, got {_kind(raw)}")


def _unique(values: Iterator[str], where: str, field: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise SandboxDataError(f"{where}: {field} {value!r} appears more than once")
        seen.add(value)


def _kind(raw: object) -> str:
    if raw is None:
        return "null"
    if isinstance(raw, str):
        return f"string {raw!r}"
    return type(raw).__name__
