"""Bodies of the rebalancing and stored-rebalance endpoints (SPEC §3).

A stored run can hold a hundred thousand positions, so responses are built as plain JSON-ready
values (``*_json`` functions) and encoded by pydantic-core, skipping per-object model
validation; stored runs are streamed, a slice of portfolios at a time (``*_stream``), so an
answer of any size is held in memory one slice at a time. The Pydantic classes describe the same
shapes for the OpenAPI document, and a test validates every builder's output against its class
so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import pydantic_core
from fastapi import Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from order_generation.api.schemas import ObjectId, RequestBody, json_number
from order_generation.domain.jobs import Job, JobStatus
from order_generation.domain.rebalance import (
    PortfolioRebalance,
    PortfolioStatus,
    PositionRebalance,
    RebalanceRun,
    RunHeader,
    in_band,
)
from order_generation.domain.trade import TradeSide
from order_generation.domain.trading_options import (
    Bands,
    Mode,
    OnInfeasible,
    Restriction,
    TradingOptions,
    Trigger,
    options_document,
)

Number = int | float
Json = dict[str, Any]


class TransactionOut(BaseModel):
    transaction_type: TradeSide
    security_id: str
    quantity: Number
    trade_date: date


_UNDER_OPTIONS = "present only when the portfolio was rebalanced with options (SPEC §8)"


class DriftOut(BaseModel):
    security_id: str
    original_quantity: Number
    adjusted_quantity: Number
    target: Number
    high_drift: Number
    low_drift: Number
    actual: Number
    in_band: bool | None = Field(
        None, description=f"whether it ended inside its band; {_UNDER_OPTIONS}"
    )


class OptionsOut(BaseModel):
    """The trading options a portfolio was rebalanced with, every one of them as applied."""

    cash_flow: Number
    cash_reserve: Number
    mode: Mode
    restrictions: dict[str, Restriction]
    min_trade_value: Number
    min_trade_quantity: int
    lot_sizes: dict[str, int]
    default_lot_size: int
    bands: Bands
    trigger: Trigger
    on_infeasible: OnInfeasible
    dry_run: bool


class RebalanceResultOut(BaseModel):
    portfolio_id: str
    portfolio_name: str | None
    rebalance_id: str | None = Field(description="null for a dry run (nothing stored)")
    status: PortfolioStatus
    reason: str | None
    transactions: list[TransactionOut]
    drifts: list[DriftOut]
    relaxed_by: Number | None = Field(
        None, description=f"the band widening of on_infeasible relax; {_UNDER_OPTIONS}"
    )
    options: OptionsOut | None = Field(None, description=_UNDER_OPTIONS)


class RunPositionOut(BaseModel):
    security_id: str
    price: Number
    original_quantity: Number
    adjusted_quantity: Number
    original_position_market_value: Number
    adjusted_position_market_value: Number
    target: Number
    high_drift: Number
    low_drift: Number
    actual: Number
    actual_drift: Number
    transaction_type: TradeSide | None
    trade_quantity: Number
    trade_date: date
    in_band: bool | None = Field(
        None, description=f"whether it ended inside its band; {_UNDER_OPTIONS}"
    )


class PortfolioOut(BaseModel):
    portfolio_id: str
    portfolio_name: str | None
    status: PortfolioStatus
    reason: str | None
    market_value: Number | None = Field(description="null only for a failed portfolio")
    cash_before_rebalance: Number | None
    cash_after_rebalance: Number | None
    positions: list[RunPositionOut] = Field(
        default_factory=list, description="absent with include=summary"
    )
    relaxed_by: Number | None = Field(
        None, description=f"the band widening of on_infeasible relax; {_UNDER_OPTIONS}"
    )
    options: OptionsOut | None = Field(None, description=_UNDER_OPTIONS)


class RebalanceOut(BaseModel):
    rebalance_id: str
    model_id: str
    model_name: str
    model_version: int | None = Field(
        description="the model version the run read (null for runs stored before migration 0003)"
    )
    rebalance_date: datetime
    number_of_portfolios: int
    portfolios: list[PortfolioOut]
    version: int
    created_at: datetime


class JobCountsOut(BaseModel):
    rebalanced: int
    infeasible: int
    in_band: int
    failed: int


class JobOut(BaseModel):
    job_id: str
    kind: str
    model_id: str
    status: JobStatus
    total: int = Field(description="portfolios in the job")
    done: int = Field(description="portfolios computed and stored so far")
    counts: JobCountsOut
    rebalance_id: str | None = Field(description="the run, once the job has succeeded")
    error: str | None = Field(description="why the job failed")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def job_json(job: Job) -> Json:
    return {
        "job_id": job.job_id,
        "kind": job.kind,
        "model_id": job.model_id,
        "status": job.status,
        "total": job.total,
        "done": job.done,
        "counts": {
            "rebalanced": job.counts.rebalanced,
            "infeasible": job.counts.infeasible,
            "in_band": job.counts.in_band,
            "failed": job.counts.failed,
        },
        "rebalance_id": job.rebalance_id if job.status == "succeeded" else None,
        "error": job.error,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


class PortfolioIds(RequestBody):
    portfolios: Annotated[list[ObjectId], Field(min_length=1, max_length=1000)]


def json_response(
    content: Any, *, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        pydantic_core.to_json(content),
        status_code=status_code,
        headers=headers,
        media_type="application/json",
    )


def result_json(rebalance_id: str | None, outcome: PortfolioRebalance) -> Json:
    n = json_number
    result: Json = {
        "portfolio_id": outcome.portfolio_id,
        "portfolio_name": outcome.portfolio_name,
        "rebalance_id": rebalance_id,
        "status": outcome.status,
        "reason": outcome.reason,
        "transactions": [
            {
                "transaction_type": p.transaction_type,
                "security_id": p.security_id,
                "quantity": n(p.trade_quantity),
                "trade_date": p.trade_date,
            }
            for p in outcome.positions
            if p.transaction_type is not None
        ],
        "drifts": [
            {
                "security_id": p.security_id,
                "original_quantity": n(p.original_quantity),
                "adjusted_quantity": n(p.adjusted_quantity),
                "target": n(p.target),
                "high_drift": n(p.high_drift),
                "low_drift": n(p.low_drift),
                "actual": n(p.actual),
            }
            for p in outcome.positions
        ],
    }
    if outcome.options is not None:
        _add_options(result, outcome)
        assert outcome.market_value is not None
        for drift, p in zip(result["drifts"], outcome.positions, strict=True):
            drift["in_band"] = in_band(p, outcome.market_value)
    return result


def options_json(options: TradingOptions) -> Json:
    """Options as applied, decimals as JSON numbers like every figure of the API."""
    document = options_document(options)
    for name in ("cash_flow", "cash_reserve", "min_trade_value"):
        document[name] = json_number(getattr(options, name))
    return document


def _add_options(figures: Json, outcome: PortfolioRebalance) -> None:
    assert outcome.options is not None
    figures["relaxed_by"] = _optional_number(outcome.relaxed_by)
    figures["options"] = options_json(outcome.options)


def position_json(p: PositionRebalance) -> Json:
    n = json_number
    return {
        "security_id": p.security_id,
        "price": n(p.price),
        "original_quantity": n(p.original_quantity),
        "adjusted_quantity": n(p.adjusted_quantity),
        "original_position_market_value": n(p.original_position_market_value),
        "adjusted_position_market_value": n(p.adjusted_position_market_value),
        "target": n(p.target),
        "high_drift": n(p.high_drift),
        "low_drift": n(p.low_drift),
        "actual": n(p.actual),
        "actual_drift": n(p.actual_drift),
        "transaction_type": p.transaction_type,
        "trade_quantity": n(p.trade_quantity),
        "trade_date": p.trade_date,
    }


def portfolio_json(p: PortfolioRebalance, *, summary: bool = False) -> Json:
    """A portfolio of a stored run; ``summary``: its figures without positions."""
    figures: Json = {
        "portfolio_id": p.portfolio_id,
        "portfolio_name": p.portfolio_name,
        "status": p.status,
        "reason": p.reason,
        "market_value": _optional_number(p.market_value),
        "cash_before_rebalance": _optional_number(p.cash_before_rebalance),
        "cash_after_rebalance": _optional_number(p.cash_after_rebalance),
    }
    if not summary:
        figures["positions"] = [position_json(position) for position in p.positions]
    if p.options is not None:
        _add_options(figures, p)
        if not summary and p.market_value is not None:
            for position, stored in zip(figures["positions"], p.positions, strict=True):
                position["in_band"] = in_band(stored, p.market_value)
    return figures


def header_json(run: RunHeader) -> Json:
    """A run's fields without its portfolios."""
    return {
        "rebalance_id": run.rebalance_id,
        "model_id": run.model_id,
        "model_name": run.model_name,
        "model_version": run.model_version,
        "rebalance_date": run.rebalance_date,
        "number_of_portfolios": run.number_of_portfolios,
        "version": run.version,
        "created_at": run.created_at,
    }


def run_json(run: RebalanceRun) -> Json:
    return {**header_json(run.header), "portfolios": [portfolio_json(p) for p in run.portfolios]}


# --- streamed answers: a run is encoded a slice of portfolios at a time ------------------------

Slices = AsyncIterator[list[PortfolioRebalance]]


async def portfolios_stream(slices: Slices, *, summary: bool = False) -> AsyncIterator[bytes]:
    """A JSON array of portfolios, encoded slice by slice."""
    yield b"["
    first = True
    async for portfolios in slices:
        if portfolios:
            values = [portfolio_json(p, summary=summary) for p in portfolios]
            encoded = pydantic_core.to_json(values)
            yield (b"" if first else b",") + encoded[1:-1]
            first = False
    yield b"]"


async def run_stream(
    run: RunHeader, slices: Slices, *, summary: bool = False
) -> AsyncIterator[bytes]:
    """One run as a JSON object whose ``portfolios`` are encoded slice by slice."""
    head = pydantic_core.to_json(header_json(run))
    yield head[:-1] + b',"portfolios":'
    async for piece in portfolios_stream(slices, summary=summary):
        yield piece
    yield b"}"


async def runs_stream(
    runs: Sequence[RunHeader], slices_of: Callable[[RunHeader], Slices], *, summary: bool = False
) -> AsyncIterator[bytes]:
    """A JSON array of runs, each streamed by ``run_stream``."""
    yield b"["
    for index, run in enumerate(runs):
        if index:
            yield b","
        async for piece in run_stream(run, slices_of(run), summary=summary):
            yield piece
    yield b"]"


def streamed(pieces: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(pieces, media_type="application/json")


def _optional_number(value: Decimal | None) -> int | float | None:
    return None if value is None else json_number(value)
