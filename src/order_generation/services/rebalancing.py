"""Rebalancing use cases (SPEC §4): a single portfolio, or every portfolio of a model.

A run fetches the security→ticker map and the prices once (bulk endpoints), then each
portfolio's holdings, solves each portfolio exactly, and stores the whole run in one
transaction. Fast solves run on the event loop; the rare cash-binding ones (a MILP) go to a
worker thread so requests keep flowing.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import structlog

from order_generation.adapters.db.database import Database
from order_generation.adapters.globeco import GlobecoClients
from order_generation.adapters.globeco.accounting import SERVICE as ACCOUNTING
from order_generation.domain.error_codes import ErrorCode
from order_generation.domain.errors import (
    InvalidServiceResponse,
    NoFeasibleRebalance,
    NotFound,
    Overloaded,
    RuleViolation,
    ServiceUnavailable,
)
from order_generation.domain.ids import new_object_id, require_object_id
from order_generation.domain.investment_model import (
    InvestmentModel,
)
from order_generation.domain.optimizer import (
    OptimizerFailure,
    RebalanceProblem,
    RebalanceSolution,
    optimize_rebalance,
    optimize_rebalance_inline,
)
from order_generation.domain.rebalance import (
    MissingPrices,
    PortfolioRebalance,
    RebalanceRun,
    SecurityPrice,
    failed_outcome,
    infeasible_outcome,
    rebalance_problem,
    rebalanced_outcome,
    unpriced_outcome,
)
from order_generation.domain.trading_options import RunOptions, TradingOptions
from order_generation.observability.metrics import (
    OVERLOADED,
    REBALANCE_DURATION,
    REBALANCED_PORTFOLIOS,
    SOLVE_DURATION,
)
from order_generation.observability.tracing import NoTelemetry, Telemetry

log = structlog.get_logger(__name__)
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class PriceSnapshot:
    """Every security that has both a ticker and a price, as fetched once for a run."""

    by_security: Mapping[str, SecurityPrice]
    prices: Mapping[str, Decimal]

    @classmethod
    def of(cls, tickers: Mapping[str, str], closes: Mapping[str, Decimal]) -> PriceSnapshot:
        by_security = {
            security_id: SecurityPrice(security_id, ticker, closes[ticker])
            for security_id, ticker in tickers.items()
            if ticker in closes
        }
        return cls(by_security, {s: p.price for s, p in by_security.items()})

    def used_by(self, portfolios: Sequence[PortfolioRebalance]) -> tuple[SecurityPrice, ...]:
        return self.of_securities({p.security_id for pf in portfolios for p in pf.positions})

    def of_securities(self, security_ids: Iterable[str]) -> tuple[SecurityPrice, ...]:
        """The entries of these securities, by security id."""
        return tuple(self.by_security[s] for s in sorted(security_ids))


class Rebalancer:
    """Rebalances portfolios against their models and stores each run."""

    def __init__(
        self,
        db: Database,
        clients: GlobecoClients,
        *,
        optimizer_timeout_seconds: float,
        concurrency: int,
        optional_lookup_timeout_seconds: float = 1.0,
        max_inflight: int = 128,
        solver_pool: Executor | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._db = db
        self._clients = clients
        self._timeout = optimizer_timeout_seconds
        self._optional_timeout = optional_lookup_timeout_seconds
        self._concurrency = concurrency
        self._solver_pool = solver_pool
        self._telemetry = telemetry or NoTelemetry()
        self._max_inflight = max_inflight
        self._inflight = 0

    @contextlib.asynccontextmanager
    async def _request(self, kind: str, **attributes: str) -> AsyncIterator[None]:
        """One rebalance request: admitted only while fewer than ``max_inflight`` are worked on
        in this process (else 503 OVERLOADED at once: no queue builds up), timed, and traced."""
        if self._inflight >= self._max_inflight:
            OVERLOADED.inc()
            raise Overloaded(
                f"{self._inflight} rebalance requests are being worked on, the most this "
                "process takes at once; try again shortly",
                retry_after_seconds=1,
            )
        self._inflight += 1
        started = time.perf_counter()
        try:
            with self._telemetry.span(f"rebalance.{kind}", **attributes):
                yield
        finally:
            self._inflight -= 1
            REBALANCE_DURATION.labels(kind).observe(time.perf_counter() - started)

    async def rebalance_portfolio(
        self, portfolio_id: str, options: Mapping[str, Any] | None = None
    ) -> tuple[str | None, PortfolioRebalance]:
        """Rebalances one portfolio against the model that holds it and stores the run; with
        ``options`` (SPEC §8, over the model's defaults) as the portfolio manager asks. The
        run's id is None for a ``dry_run`` (nothing stored).

        Raises NotFound when no model holds the portfolio, NoFeasibleRebalance (nothing
        stored) when no whole-unit solution exists or none is proven in time, RuleViolation
        when the options name a security the security service does not know, and
        ServiceUnavailable when a required GlobeCo service fails.
        """
        portfolio_id = require_object_id(portfolio_id, "portfolio id")
        async with self._request("portfolio", portfolio_id=portfolio_id):
            return await self._rebalance_portfolio(portfolio_id, options)

    async def _rebalance_portfolio(
        self, portfolio_id: str, options: Mapping[str, Any] | None
    ) -> tuple[str | None, PortfolioRebalance]:
        async with self._db.unit_of_work(write=False) as uow:
            model = await uow.models.owner_of(portfolio_id)
        if model is None:
            raise NotFound(f"portfolio {portfolio_id} is not in any model; add it to one first")
        layers = RunOptions(model.rebalance_options, options)
        name = asyncio.create_task(self._portfolio_name(portfolio_id))
        try:
            snapshot = await self.price_snapshot()
            check_named_securities(layers, model, snapshot)
            outcome = await self._rebalance_one(
                portfolio_id,
                model,
                snapshot,
                _today(),
                isolate_failures=False,
                options=layers.for_portfolio(portfolio_id),
            )
        except BaseException:
            name.cancel()
            raise
        outcome = replace(outcome, portfolio_name=await name)
        _count((outcome,))
        if outcome.status not in ("rebalanced", "in_band"):
            raise NoFeasibleRebalance(
                f"no feasible solution exists for portfolio {portfolio_id}: {outcome.reason}"
            )
        if outcome.options is not None and outcome.options.dry_run:
            return None, outcome
        run = await self._store(model, (outcome,), snapshot, mark_model=False)
        return run.rebalance_id, outcome

    async def rebalance_model(
        self,
        model_id: str,
        options: Mapping[str, Any] | None = None,
        portfolio_options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> RebalanceRun | None:
        """Rebalances every portfolio of the model concurrently, against one price snapshot,
        and stores them as one run (infeasible portfolios included, with their reason); with
        ``options`` and each portfolio's ``portfolio_options`` (SPEC §8) over the model's
        defaults. A ``dry_run`` stores nothing and marks nothing: its run is not stored.

        The first required service that fails aborts the whole run; nothing is stored. A
        portfolio whose holdings answer is unreadable is ``failed`` and the run goes on, unless
        every portfolio failed (then the service is not usable: InvalidServiceResponse, nothing
        stored). A model without portfolios has nothing to rebalance: None, nothing stored.
        Options that name a portfolio outside the model, or a security the security service
        does not know, raise RuleViolation (nothing computed).
        """
        model_id = require_object_id(model_id, "model id")
        async with self._request("model", model_id=model_id):
            return await self._rebalance_model(model_id, options, portfolio_options or {})

    async def _rebalance_model(
        self,
        model_id: str,
        options: Mapping[str, Any] | None,
        portfolio_options: Mapping[str, Mapping[str, Any]],
    ) -> RebalanceRun | None:
        async with self._db.unit_of_work(write=False) as uow:
            model = await uow.models.get(model_id)
        if model is None:
            raise NotFound(f"model {model_id} not found")
        layers = run_options(model, options, portfolio_options)
        if not model.portfolios:
            return None
        snapshot = await self.price_snapshot()
        check_named_securities(layers, model, snapshot)
        outcomes = await self.outcomes(model, model.portfolios, snapshot, _today(), None, layers)
        if layers.shared is not None and layers.shared.dry_run:
            return _unstored_run(model, outcomes, snapshot)
        return await self._store(model, outcomes, snapshot, mark_model=True)

    async def outcomes(
        self,
        model: InvestmentModel,
        portfolio_ids: Sequence[str],
        snapshot: PriceSnapshot,
        today: date,
        names: Mapping[str, str | None] | None = None,
        layers: RunOptions | None = None,
    ) -> tuple[PortfolioRebalance, ...]:
        """The outcome of each of these portfolios of the model (in their order), named (from
        ``names`` when given, else looked up); the engine of model runs and of job chunks alike.
        ``layers``: the run's trading options (default: the model's own, if any).

        The first required service that fails raises. A portfolio whose holdings answer is
        unreadable is ``failed`` and the others go on, unless every one of them failed (then
        the service is not usable: InvalidServiceResponse)."""
        # One bulk call for the whole run rather than one per portfolio.
        lookup = asyncio.create_task(self.portfolio_names()) if names is None else None
        try:
            layers = layers or RunOptions(model.rebalance_options)
            outcomes, unreadable = await self._rebalance_all(
                model, portfolio_ids, snapshot, today, layers
            )
            if unreadable == len(outcomes):
                raise InvalidServiceResponse(
                    ACCOUNTING,
                    f"no portfolio of model {model.model_id} could be read; the first: "
                    f"{outcomes[0].reason}",
                )
        except BaseException:
            if lookup is not None:
                lookup.cancel()
            raise
        known: Mapping[str, str | None] = (await lookup if lookup is not None else names) or {}
        named = tuple(replace(o, portfolio_name=known.get(o.portfolio_id)) for o in outcomes)
        _count(named)
        return named

    async def _rebalance_all(
        self,
        model: InvestmentModel,
        portfolio_ids: Sequence[str],
        snapshot: PriceSnapshot,
        today: date,
        layers: RunOptions,
    ) -> tuple[tuple[PortfolioRebalance, ...], int]:
        """Each portfolio's outcome, and how many of them had unreadable holdings."""
        gate = asyncio.Semaphore(self._concurrency)
        unreadable = 0

        async def one(portfolio_id: str) -> PortfolioRebalance:
            nonlocal unreadable
            async with gate:
                try:
                    return await self._rebalance_one(
                        portfolio_id,
                        model,
                        snapshot,
                        today,
                        isolate_failures=True,
                        options=layers.for_portfolio(portfolio_id),
                    )
                except InvalidServiceResponse as error:
                    # The service answered, but this portfolio's answer cannot be read: that
                    # portfolio fails alone (a service that is down still aborts the run).
                    log.warning("portfolio holdings unreadable", portfolio_id=portfolio_id)
                    unreadable += 1
                    return failed_outcome(portfolio_id, None, error.message)

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(p)) for p in portfolio_ids]
        except BaseExceptionGroup as failures:
            # The task group cancelled the rest at the first failure; report that one.
            raise _first_failure(failures) from None
        return tuple(task.result() for task in tasks), unreadable

    async def _rebalance_one(
        self,
        portfolio_id: str,
        model: InvestmentModel,
        snapshot: PriceSnapshot,
        today: date,
        *,
        isolate_failures: bool,
        options: TradingOptions | None = None,
    ) -> PortfolioRebalance:
        """This portfolio's outcome. ``isolate_failures`` (a model run): a portfolio whose
        solve fails is ``failed`` instead of raising. Unreadable holdings raise
        InvalidServiceResponse either way (a model run counts them)."""
        with self._telemetry.span("rebalance.fetch_holdings", portfolio_id=portfolio_id):
            holdings = await self._clients.accounting.portfolio_holdings(portfolio_id)
        try:
            problem = rebalance_problem(holdings, model, snapshot.prices, options)
        except MissingPrices as missing:
            return replace(unpriced_outcome(holdings, None, str(missing)), options=options)
        with self._telemetry.span("rebalance.solve", portfolio_id=portfolio_id):
            started = time.perf_counter()
            try:
                solution = await self._solve(problem)
            except OptimizerFailure as failure:
                # A bug (an answer failed the optimizer's own exact check): logged for a fix.
                # In a model run that portfolio fails alone; a single rebalance answers 500.
                log.error("optimizer failure", portfolio_id=portfolio_id, error=str(failure))
                if not isolate_failures:
                    raise
                return failed_outcome(portfolio_id, None, f"the optimizer failed: {failure}")
            SOLVE_DURATION.labels(solution.method or solution.status).observe(
                time.perf_counter() - started
            )
        if solution.status == "optimal":
            return rebalanced_outcome(portfolio_id, None, problem, solution, today)
        if solution.status == "in_band":
            return infeasible_outcome(portfolio_id, None, problem, IN_BAND, today, "in_band")
        reason = solution.reason.message if solution.reason else solution.status
        return infeasible_outcome(portfolio_id, None, problem, reason, today)

    async def _solve(self, problem: RebalanceProblem) -> RebalanceSolution:
        """The optimum: fast answers on the event loop, the cash-binding MILP in a worker
        thread (HiGHS releases the GIL). Raises OptimizerFailure either way."""
        quick = optimize_rebalance_inline(problem)
        if quick is not None:
            return quick
        solve = functools.partial(optimize_rebalance, problem, time_limit_seconds=self._timeout)
        # In the request's context, so whatever the solver logs carries the correlation id.
        in_context = functools.partial(contextvars.copy_context().run, solve)
        return await asyncio.get_running_loop().run_in_executor(self._solver_pool, in_context)

    async def price_snapshot(self) -> PriceSnapshot:
        """Every security's ticker and price, fetched once for a run (two bulk calls)."""
        with self._telemetry.span("rebalance.fetch_prices"):
            tickers, closes = await asyncio.gather(
                self._clients.security.tickers(), self._clients.pricing.close_prices()
            )
        return PriceSnapshot.of(tickers, closes)

    async def _portfolio_name(self, portfolio_id: str) -> str | None:
        return await self._optional(self._clients.portfolio.portfolio_name(portfolio_id))

    async def portfolio_names(self) -> Mapping[str, str] | None:
        """Every portfolio's name, best effort: None when the lookup failed or took too long."""
        return await self._optional(self._clients.portfolio.portfolio_names())

    async def _optional(self, lookup: Awaitable[_T]) -> _T | None:
        """A best-effort lookup: its answer, or None once it fails or takes longer than the
        optional-lookup timeout (it never holds up a rebalance for longer)."""
        try:
            async with asyncio.timeout(self._optional_timeout):
                return await lookup
        except ServiceUnavailable as error:
            log.warning("optional lookup failed", error=error.message)
        except TimeoutError:
            log.warning("optional lookup timed out", timeout_seconds=self._optional_timeout)
        return None

    async def _store(
        self,
        model: InvestmentModel,
        outcomes: tuple[PortfolioRebalance, ...],
        snapshot: PriceSnapshot,
        *,
        mark_model: bool,
    ) -> RebalanceRun:
        run = _new_run(model, outcomes, snapshot, new_object_id(), version=1)
        with self._telemetry.span("rebalance.store", portfolios=len(outcomes)):
            await self._commit_run(run, model, mark_model=mark_model)
        return run

    async def _commit_run(
        self, run: RebalanceRun, model: InvestmentModel, *, mark_model: bool
    ) -> None:
        now = run.rebalance_date
        async with self._db.unit_of_work() as uow:
            await uow.rebalances.add(run)
            if mark_model and not await uow.models.mark_rebalanced(
                model.model_id, now, version=model.version
            ):
                # The model changed while the run was computed: the run is a true record of
                # version N, but the model's new content was not rebalanced.
                log.info("model changed during the run; not marked", model_id=model.model_id)
            await uow.commit()


IN_BAND = (
    "every security is inside its band and cash meets the reserve (trigger: out_of_band): "
    "nothing to trade"
)


def run_options(
    model: InvestmentModel,
    options: Mapping[str, Any] | None,
    portfolio_options: Mapping[str, Mapping[str, Any]],
) -> RunOptions:
    """A model run's option layers; RuleViolation for ``portfolio_options`` of a portfolio
    outside the model, or a ``dry_run`` there (it applies to the whole run or none of it)."""
    errors = []
    held = set(model.portfolios)
    for portfolio_id, layer in portfolio_options.items():
        where = f"portfolio_options.{portfolio_id}"
        if portfolio_id not in held:
            message = f"portfolio {portfolio_id} is not in model {model.model_id}"
            errors.append(_field_error(where, message))
        if "dry_run" in layer:
            message = "dry_run applies to the whole run: set it in the request"
            errors.append(_field_error(f"{where}.dry_run", message))
    if errors:
        raise RuleViolation(errors[0]["message"], code=ErrorCode.INVALID_OPTION, errors=errors)
    return RunOptions(model.rebalance_options, options, portfolio_options)


def check_named_securities(
    layers: RunOptions, model: InvestmentModel, snapshot: PriceSnapshot
) -> None:
    """RuleViolation when the options restrict or size lots of a security that is neither in
    the model nor known (and priced) by the security and pricing services."""
    known = snapshot.by_security.keys() | {p.security_id for p in model.positions}
    errors = [
        _field_error(f"{where}.{security_id}",
                     f"security {security_id} is not in the model and not known to the security "
                     "and pricing services")
        for where, security_id in layers.named_securities()
        if security_id not in known
    ]  # fmt: skip
    if errors:
        raise RuleViolation(errors[0]["message"], code=ErrorCode.INVALID_OPTION, errors=errors)


def _field_error(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message, "type": "invalid_option"}


def _unstored_run(
    model: InvestmentModel, outcomes: tuple[PortfolioRebalance, ...], snapshot: PriceSnapshot
) -> RebalanceRun:
    """A dry run's answer: a run as it would have been stored, but it is not (no id)."""
    return _new_run(model, outcomes, snapshot, "", version=0)


def _new_run(
    model: InvestmentModel,
    outcomes: tuple[PortfolioRebalance, ...],
    snapshot: PriceSnapshot,
    rebalance_id: str,
    *,
    version: int,
) -> RebalanceRun:
    now = datetime.now(UTC)
    return RebalanceRun(
        rebalance_id=rebalance_id,
        model_id=model.model_id,
        model_name=model.name,
        model_version=model.version,
        rebalance_date=now,
        portfolios=outcomes,
        prices=snapshot.used_by(outcomes),
        version=version,
        created_at=now,
    )


def _count(outcomes: tuple[PortfolioRebalance, ...]) -> None:
    for status, count in Counter(o.status for o in outcomes).items():
        REBALANCED_PORTFOLIOS.labels(status).inc(count)


def _today() -> date:
    return datetime.now(UTC).date()


def _first_failure(group: BaseExceptionGroup[BaseException]) -> BaseException:
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            return _first_failure(error)
        if isinstance(error, ServiceUnavailable):
            return error
    return group.exceptions[0]
