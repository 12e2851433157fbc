"""OpenTelemetry traces and metrics over OTLP, configured only by the standard ``OTEL_*``
variables, and off (the SDK not even imported, nothing done) unless they ask for it.

On when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set and
``OTEL_SDK_DISABLED`` is not ``true``; ``OTEL_TRACES_EXPORTER=none`` or
``OTEL_METRICS_EXPORTER=none`` turns one signal off. Everything else (service name, resource
attributes, headers, timeouts, sampler, batch sizes, export interval) is read by the SDK itself
from its own variables. The exporter speaks OTLP/HTTP with protobuf (port 4318), what GlobeCo's
node-local collector takes.

Providers are kept per app rather than installed globally, so several apps in one process (the
tests) do not fight over the global one; the W3C trace context still flows to GlobeCo calls.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI
    from sqlalchemy.ext.asyncio import AsyncEngine

DEFAULT_SERVICE_NAME = "globeco-order-generation-service"


class Telemetry(Protocol):
    enabled: bool

    def span(self, name: str, **attributes: Any) -> contextlib.AbstractContextManager[None]:
        """A span around a block (a phase of a rebalance run, …)."""
        ...

    def annotate_request(self, **attributes: Any) -> None:
        """Attributes on the span of the request being served."""
        ...

    def instrument_app(self, app: FastAPI) -> None:
        """Spans for requests (before the app's middleware stack is built)."""
        ...

    def instrument_io(self, http: httpx.AsyncClient, engine: AsyncEngine) -> None:
        """Spans for GlobeCo calls (trace context propagated) and database work."""
        ...

    def shutdown(self) -> None:
        """Flushes what is buffered and stops exporting."""
        ...


class NoTelemetry:
    """Telemetry switched off: every call is a no-op."""

    enabled = False

    def span(self, name: str, **attributes: Any) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def annotate_request(self, **attributes: Any) -> None:
        return None

    def instrument_app(self, app: FastAPI) -> None:
        return None

    def instrument_io(self, http: httpx.AsyncClient, engine: AsyncEngine) -> None:
        return None

    def shutdown(self) -> None:
        return None


def telemetry_from_environment() -> Telemetry:
    """OpenTelemetry if the ``OTEL_*`` variables ask for it, else ``NoTelemetry``."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return NoTelemetry()
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )
    if not endpoint:
        return NoTelemetry()
    return OpenTelemetry()


class OpenTelemetry:
    """The OpenTelemetry SDK with OTLP/HTTP exporters and the FastAPI, httpx and SQLAlchemy
    instrumentations."""

    enabled = True

    def __init__(self) -> None:
        # Imported here: with telemetry off the SDK is never loaded.
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider

        attributes = {}
        if not os.environ.get("OTEL_SERVICE_NAME") and "service.name=" not in os.environ.get(
            "OTEL_RESOURCE_ATTRIBUTES", ""
        ):
            attributes[SERVICE_NAME] = DEFAULT_SERVICE_NAME
        resource = Resource.create(attributes)
        self._tracer_provider = TracerProvider(resource=resource)
        if _exporter_wanted("OTEL_TRACES_EXPORTER"):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            self._tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self._meter_provider: Any = None
        if _exporter_wanted("OTEL_METRICS_EXPORTER"):
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
            from opentelemetry.sdk.metrics import MeterProvider
            from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

            reader = PeriodicExportingMetricReader(OTLPMetricExporter())
            self._meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
        self._tracer = self._tracer_provider.get_tracer("order_generation")
        self._instrumented: list[Callable[[], None]] = []  # how to undo each instrumentation

    @contextlib.contextmanager
    def span(self, name: str, **attributes: Any) -> Iterator[None]:
        with self._tracer.start_as_current_span(name, attributes=attributes):
            yield

    def annotate_request(self, **attributes: Any) -> None:
        from opentelemetry import trace

        span = trace.get_current_span()
        if span.is_recording():
            span.set_attributes(attributes)

    def instrument_app(self, app: FastAPI) -> None:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            app,
            excluded_urls="/health/live,/health/ready,/metrics",
            tracer_provider=self._tracer_provider,
            meter_provider=self._meter_provider,
        )
        self._instrumented.append(lambda: FastAPIInstrumentor.uninstrument_app(app))

    def instrument_io(self, http: httpx.AsyncClient, engine: AsyncEngine) -> None:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        tracer, meter = self._tracer_provider, self._meter_provider
        HTTPXClientInstrumentor.instrument_client(
            http, tracer_provider=tracer, meter_provider=meter
        )
        self._instrumented.append(lambda: HTTPXClientInstrumentor.uninstrument_client(http))
        # The instrumentation declares SQLAlchemy < 2.1; it only listens to the engine's cursor
        # events, which 2.1 keeps (tests/e2e/test_tracing.py checks the spans arrive). It also
        # wraps SQLAlchemy's engine factories and Engine.connect process-wide, so shutting down
        # undoes it (several apps in one process, the tests, must not inherit a dead tracer).
        instrumentor = SQLAlchemyInstrumentor()
        instrumentor.instrument(
            engine=engine.sync_engine,
            tracer_provider=tracer,
            meter_provider=meter,
            skip_dep_check=True,
        )
        self._instrumented.append(instrumentor.uninstrument)

    def shutdown(self) -> None:
        while self._instrumented:
            self._instrumented.pop()()
        self._tracer_provider.shutdown()
        if self._meter_provider is not None:
            self._meter_provider.shutdown()


def _exporter_wanted(variable: str) -> bool:
    return os.environ.get(variable, "otlp").strip().lower() != "none"
