"""Management API routes for audiences."""

from __future__ import annotations

from collections.abc import Callable

from rapport.api.http import Request, Response, Route, empty_response, json_response
from rapport.api.management import ManagementRoutes, WorkspaceContext
from rapport.audiences import preview, service
from rapport.audiences.schemas import (
    AudienceCreate,
    AudiencePublic,
    AudienceSize,
    AudienceUpdate,
    PreviewRequest,
)
from rapport.core.db import Database
from rapport.core.pagination import Page, parse_page_request

TAGS = ("Audiences",)


def build_routes(
    routes: ManagementRoutes,
    database: Database,
    sizer: preview.Sizer,
    on_change: Callable[[str], None] = lambda workspace_id: None,
) -> list[Route]:
    """``on_change(workspace_id)``: surfaces using a changed audience decide afresh."""

    async def create(request: Request, ctx: WorkspaceContext) -> Response:
        body = await request.json(AudienceCreate)
        return json_response(
            await database.run(service.create_audience, ctx.workspace_id, body), 201
        )

    async def list_all(request: Request, ctx: WorkspaceContext) -> Response:
        page = parse_page_request(request.query)
        return json_response(
            await database.run_read(service.list_audiences, ctx.workspace_id, page)
        )

    async def get(request: Request, ctx: WorkspaceContext) -> Response:
        audience_id = request.path_params["id"]
        return json_response(
            await database.run_read(service.get_audience, ctx.workspace_id, audience_id)
        )

    async def patch(request: Request, ctx: WorkspaceContext) -> Response:
        body = await request.json(AudienceUpdate)
        audience_id = request.path_params["id"]
        updated = await database.run(service.update_audience, ctx.workspace_id, audience_id, body)
        on_change(ctx.workspace_id)
        return json_response(updated)

    async def remove(request: Request, ctx: WorkspaceContext) -> Response:
        await database.run(service.delete_audience, ctx.workspace_id, request.path_params["id"])
        on_change(ctx.workspace_id)
        return empty_response(204)

    async def size(request: Request, ctx: WorkspaceContext) -> Response:
        audience = await database.run_read(
            service.get_audience, ctx.workspace_id, request.path_params["id"]
        )
        rule = service.validated(audience.rule, ["rule"])
        return json_response(await database.run_read(sizer.size, ctx.workspace_id, rule, None))

    async def preview_rule(request: Request, ctx: WorkspaceContext) -> Response:
        body = await request.json(PreviewRequest)
        rule = service.validated(body.rule, ["body", "rule"])
        return json_response(
            await database.run_read(sizer.size, ctx.workspace_id, rule, body.session)
        )

    one = "/api/audiences/{id}"
    return [
        routes.route(
            "POST",
            "/api/audiences",
            create,
            name="create_audience",
            summary="Save a rule tree as an audience (validated; 422 points inside the rule)",
            tags=TAGS,
            body=AudienceCreate,
            response=AudiencePublic,
            status=201,
            errors=(422,),
        ),
        routes.route(
            "GET",
            "/api/audiences",
            list_all,
            name="list_audiences",
            summary="Audiences",
            tags=TAGS,
            response=Page[AudiencePublic],
            paged=True,
            errors=(422,),
        ),
        routes.route(
            "POST",
            "/api/audiences/preview",
            preview_rule,
            name="preview_audience",
            summary="How many profiles a rule matches, before saving it",
            tags=TAGS,
            body=PreviewRequest,
            response=AudienceSize,
            errors=(422,),
        ),
        routes.route(
            "GET",
            one,
            get,
            name="get_audience",
            summary="An audience",
            tags=TAGS,
            response=AudiencePublic,
            errors=(404,),
        ),
        routes.route(
            "PATCH",
            one,
            patch,
            name="update_audience",
            summary="Rename an audience or replace its rule",
            tags=TAGS,
            body=AudienceUpdate,
            response=AudiencePublic,
            errors=(404, 422),
        ),
        routes.route(
            "DELETE",
            one,
            remove,
            name="delete_audience",
            summary="Delete an audience (409 while a surface uses it)",
            tags=TAGS,
            status=204,
            errors=(404, 409),
        ),
        routes.route(
            "GET",
            "/api/audiences/{id}/size",
            size,
            name="audience_size",
            summary="How many profiles an audience matches now",
            tags=TAGS,
            response=AudienceSize,
            errors=(404,),
        ),
    ]
