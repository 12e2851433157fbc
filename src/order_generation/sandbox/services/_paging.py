"""The ``pagination`` object of the security and portfolio services' v2 search endpoints."""

from __future__ import annotations

import math


def v2_pagination(total: int, limit: int, offset: int) -> dict[str, object]:
    return {
        "totalElements": total,
        "totalPages": math.ceil(total / limit),
        "currentPage": offset // limit,
        "pageSize": limit,
        "hasNext": offset + limit < total,
        "hasPrevious": offset > 0,
    }
