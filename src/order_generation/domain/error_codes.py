"""Every ``code`` an error response can carry: the catalogue (the README's table is checked
against it). Codes are stable; messages are for people and may change."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    # 400: the request itself is wrong
    INVALID_REQUEST = "INVALID_REQUEST"  # body or parameters do not have the documented form
    MALFORMED_HTTP_REQUEST = "MALFORMED_HTTP_REQUEST"  # HTTP framing the server cannot parse
    INVALID_HOST = "INVALID_HOST"  # a Host not in OGS_TRUSTED_HOSTS
    INVALID_ID = "INVALID_ID"  # an id that is not 24 hexadecimal characters
    INVALID_NAME = "INVALID_NAME"  # a model name: empty, too long, control characters
    INVALID_PAGING = "INVALID_PAGING"  # offset/limit negative, too large, or past the end
    INVALID_SORT = "INVALID_SORT"  # sort_by names an unknown field
    NOT_A_NUMBER = "NOT_A_NUMBER"  # NaN or an infinity where a decimal is due
    TOO_PRECISE = "TOO_PRECISE"  # more than 10 decimal places
    TARGET_OUT_OF_RANGE = "TARGET_OUT_OF_RANGE"  # a target outside [0, 0.95]
    TARGET_NOT_MULTIPLE_OF_0_005 = "TARGET_NOT_MULTIPLE_OF_0_005"
    DRIFT_OUT_OF_RANGE = "DRIFT_OUT_OF_RANGE"  # a drift outside [0, 1]
    TARGET_SUM_EXCEEDS_0_95 = "TARGET_SUM_EXCEEDS_0_95"  # at least 5 % stays in cash
    TOO_MANY_POSITIONS = "TOO_MANY_POSITIONS"  # more than 100 positions above 0
    DUPLICATE_SECURITY = "DUPLICATE_SECURITY"  # a security twice in a model
    SECURITY_NOT_IN_MODEL = "SECURITY_NOT_IN_MODEL"  # changing a position the model lacks
    POSITION_MISMATCH = "POSITION_MISMATCH"  # deleting a position with other values
    PORTFOLIO_IN_OTHER_MODEL = "PORTFOLIO_IN_OTHER_MODEL"  # a portfolio has at most one model
    INVALID_OPTION = "INVALID_OPTION"  # a rebalance option names an unknown security/portfolio
    # 404, 405, 409, 413
    NOT_FOUND = "NOT_FOUND"  # an unknown id or path
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"  # the path has no such method (see Allow)
    VERSION_CONFLICT = "VERSION_CONFLICT"  # a stale version: nothing changed
    BODY_TOO_LARGE = "BODY_TOO_LARGE"  # a body above 5 MB, however it is sent
    # 422: well-formed, refused by state
    MODEL_HAS_PORTFOLIOS = "MODEL_HAS_PORTFOLIOS"  # delete the portfolios first
    NO_FEASIBLE_SOLUTION = "NO_FEASIBLE_SOLUTION"  # no whole-unit rebalance (or none in time)
    MODEL_HAS_NO_PORTFOLIOS = "MODEL_HAS_NO_PORTFOLIOS"  # an async run needs a portfolio
    JOB_FINISHED = "JOB_FINISHED"  # cancelling a job that succeeded or failed
    # 503 (with Retry-After): try again later
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"  # a GlobeCo service down or its circuit open
    INVALID_SERVICE_RESPONSE = "INVALID_SERVICE_RESPONSE"  # it answered against its contract
    DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"  # down, unreachable or too slow
    OVERLOADED = "OVERLOADED"  # OGS_MAX_INFLIGHT_REBALANCES reached
    # 500
    INTERNAL_ERROR = "INTERNAL_ERROR"  # a bug; logged with its traceback
