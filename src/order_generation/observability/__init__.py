"""Correlation ids, Prometheus metrics and OpenTelemetry tracing: what an operator sees."""
