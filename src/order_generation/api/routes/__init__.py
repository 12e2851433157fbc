"""HTTP routes; every GlobeCo-facing path lives under ``API_PREFIX``."""

API_PREFIX = "/api/v1"
