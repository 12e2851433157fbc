"""Investment model endpoints (SPEC §3 "Models")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from order_generation.api.deps import DatabaseDep
from order_generation.api.exact_json import ExactJsonRoute
from order_generation.api.routes import API_PREFIX
from order_generation.api.schemas import (
    ErrorOut,
    ModelCreate,
    ModelOut,
    ModelUpdate,
    ObjectIdPath,
    PortfoliosChange,
    PositionChange,
    QueryNumber,
    VersionQuery,
    sort_pattern,
)
from order_generation.domain.investment_model import MODEL_SORT_FIELDS
from order_generation.services import models as service

router = APIRouter(
    prefix=API_PREFIX,
    route_class=ExactJsonRoute,
    tags=["models"],
    responses={400: {"model": ErrorOut}, 404: {"model": ErrorOut}, 409: {"model": ErrorOut}},
)

SortBy = Annotated[
    str | None,
    Query(
        max_length=200,
        description="Comma-separated model_id, name, last_rebalance_date; prefix - for "
        "descending, + (default) for ascending.",
        json_schema_extra={"pattern": sort_pattern(MODEL_SORT_FIELDS)},
    ),
]


@router.get("/models", response_model=list[ModelOut])
async def list_models(
    db: DatabaseDep,
    offset: Annotated[QueryNumber | None, Query(description="Default 0.")] = None,
    limit: Annotated[QueryNumber | None, Query(description="Default: to the end.")] = None,
    sort_by: SortBy = None,
) -> list[ModelOut]:
    return [ModelOut.of(m) for m in await service.list_models(db, offset, limit, sort_by)]


@router.get("/model/{model_id}", response_model=ModelOut)
async def get_model(model_id: ObjectIdPath, db: DatabaseDep) -> ModelOut:
    return ModelOut.of(await service.get_model(db, model_id))


@router.post("/models", response_model=ModelOut, status_code=status.HTTP_201_CREATED)
async def create_model(body: ModelCreate, db: DatabaseDep) -> ModelOut:
    model = await service.create_model(
        db, body.name, [p.to_domain() for p in body.positions], body.portfolios
    )
    return ModelOut.of(model)


@router.put("/model/{model_id}", response_model=ModelOut)
async def replace_model(model_id: ObjectIdPath, body: ModelUpdate, db: DatabaseDep) -> ModelOut:
    keep_date = "last_rebalance_date" not in body.model_fields_set
    model = await service.replace_model(
        db,
        model_id,
        name=body.name,
        positions=[p.to_domain() for p in body.positions],
        portfolios=body.portfolios,
        last_rebalance_date=service.KEEP if keep_date else body.last_rebalance_date,
        version=body.version,
    )
    return ModelOut.of(model)


@router.delete(
    "/model/{model_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={422: {"model": ErrorOut, "description": "the model still has portfolios"}},
)
async def delete_model(model_id: ObjectIdPath, version: VersionQuery, db: DatabaseDep) -> Response:
    await service.delete_model(db, model_id, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _changed(
    db: DatabaseDep, model_id: str, change: service.ModelChange, version: int | None
) -> ModelOut:
    return ModelOut.of(await service.change_model(db, model_id, change, expected_version=version))


@router.post("/model/{model_id}/position", response_model=ModelOut)
async def add_position(model_id: ObjectIdPath, body: PositionChange, db: DatabaseDep) -> ModelOut:
    position = body.to_domain()
    return await _changed(db, model_id, lambda m: m.with_position_added(position), body.version)


@router.put("/model/{model_id}/position", response_model=ModelOut)
async def update_position(
    model_id: ObjectIdPath, body: PositionChange, db: DatabaseDep
) -> ModelOut:
    position = body.to_domain()
    return await _changed(db, model_id, lambda m: m.with_position_updated(position), body.version)


@router.delete("/model/{model_id}/position", response_model=ModelOut)
async def remove_position(
    model_id: ObjectIdPath, body: PositionChange, db: DatabaseDep
) -> ModelOut:
    position = body.to_domain()
    return await _changed(db, model_id, lambda m: m.with_position_removed(position), body.version)


@router.post("/model/{model_id}/portfolio", response_model=ModelOut)
async def add_portfolios(
    model_id: ObjectIdPath, body: PortfoliosChange, db: DatabaseDep
) -> ModelOut:
    ids = body.portfolios
    return await _changed(db, model_id, lambda m: m.with_portfolios_added(ids), body.version)


@router.delete("/model/{model_id}/portfolio", response_model=ModelOut)
async def remove_portfolios(
    model_id: ObjectIdPath, body: PortfoliosChange, db: DatabaseDep
) -> ModelOut:
    ids = body.portfolios
    return await _changed(db, model_id, lambda m: m.with_portfolios_removed(ids), body.version)
