"""Investment model endpoints (SPEC §3 "Models")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from order_generation.api.deps import ModelsDep
from order_generation.api.exact_json import ExactJsonRoute
from order_generation.api.options import DefaultOptions
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
    models: ModelsDep,
    offset: Annotated[QueryNumber | None, Query(description="Default 0.")] = None,
    limit: Annotated[QueryNumber | None, Query(description="Default: to the end.")] = None,
    sort_by: SortBy = None,
) -> list[ModelOut]:
    return [ModelOut.of(m) for m in await models.page(offset, limit, sort_by)]


@router.get("/model/{model_id}", response_model=ModelOut)
async def get_model(model_id: ObjectIdPath, models: ModelsDep) -> ModelOut:
    return ModelOut.of(await models.get(model_id))


@router.post("/models", response_model=ModelOut, status_code=status.HTTP_201_CREATED)
async def create_model(body: ModelCreate, models: ModelsDep) -> ModelOut:
    positions = [p.to_domain() for p in body.positions]
    options = _layer(body.rebalance_options)
    return ModelOut.of(await models.create(body.name, positions, body.portfolios, options))


@router.put("/model/{model_id}", response_model=ModelOut)
async def replace_model(model_id: ObjectIdPath, body: ModelUpdate, models: ModelsDep) -> ModelOut:
    model = await models.replace(
        model_id,
        name=body.name,
        positions=[p.to_domain() for p in body.positions],
        portfolios=body.portfolios,
        last_rebalance_date=body.last_rebalance_date,
        keep_last_rebalance_date="last_rebalance_date" not in body.model_fields_set,
        rebalance_options=None
        if body.rebalance_options is None
        else body.rebalance_options.layer(),
        keep_rebalance_options="rebalance_options" not in body.model_fields_set,
        version=body.version,
    )
    return ModelOut.of(model)


@router.delete(
    "/model/{model_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={422: {"model": ErrorOut, "description": "the model still has portfolios"}},
)
async def delete_model(
    model_id: ObjectIdPath, version: VersionQuery, models: ModelsDep
) -> Response:
    await models.delete(model_id, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/model/{model_id}/position", response_model=ModelOut)
async def add_position(model_id: ObjectIdPath, body: PositionChange, models: ModelsDep) -> ModelOut:
    return ModelOut.of(await models.add_position(model_id, body.to_domain(), body.version))


@router.put("/model/{model_id}/position", response_model=ModelOut)
async def update_position(
    model_id: ObjectIdPath, body: PositionChange, models: ModelsDep
) -> ModelOut:
    return ModelOut.of(await models.update_position(model_id, body.to_domain(), body.version))


@router.delete("/model/{model_id}/position", response_model=ModelOut)
async def remove_position(
    model_id: ObjectIdPath, body: PositionChange, models: ModelsDep
) -> ModelOut:
    return ModelOut.of(await models.remove_position(model_id, body.to_domain(), body.version))


@router.post("/model/{model_id}/portfolio", response_model=ModelOut)
async def add_portfolios(
    model_id: ObjectIdPath, body: PortfoliosChange, models: ModelsDep
) -> ModelOut:
    return ModelOut.of(await models.add_portfolios(model_id, body.portfolios, body.version))


@router.delete("/model/{model_id}/portfolio", response_model=ModelOut)
async def remove_portfolios(
    model_id: ObjectIdPath, body: PortfoliosChange, models: ModelsDep
) -> ModelOut:
    return ModelOut.of(await models.remove_portfolios(model_id, body.portfolios, body.version))


def _layer(options: DefaultOptions | None) -> dict[str, Any] | None:
    return None if options is None else options.layer()
