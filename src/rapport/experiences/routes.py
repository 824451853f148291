"""Management API routes for experiences."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from rapport.api.http import Request, Response, Route, empty_response, json_response
from rapport.api.management import ManagementRoutes, WorkspaceContext
from rapport.core.db import Database
from rapport.core.pagination import Page, parse_page_request
from rapport.decide import reports
from rapport.decide.catalog import Catalog
from rapport.experiences import service
from rapport.experiences.schemas import ExperienceCreate, ExperiencePublic, ExperienceUpdate

TAGS = ("Experiences",)


def build_routes(
    routes: ManagementRoutes,
    database: Database,
    catalog: Catalog,
    on_change: Callable[[str], None] = lambda workspace_id: None,
) -> list[Route]:
    """``on_change(workspace_id)`` lets this process's decisions see the change at once."""

    async def create(request: Request, ctx: WorkspaceContext) -> Response:
        body = await request.json(ExperienceCreate)
        created = await database.run(service.create_experience, ctx.workspace_id, body)
        on_change(ctx.workspace_id)
        return json_response(created, 201)

    async def list_all(request: Request, ctx: WorkspaceContext) -> Response:
        page = parse_page_request(request.query)
        return json_response(
            await database.run_read(service.list_experiences, ctx.workspace_id, page)
        )

    async def get(request: Request, ctx: WorkspaceContext) -> Response:
        key = request.path_params["key"]
        return json_response(await database.run_read(service.get_experience, ctx.workspace_id, key))

    async def patch(request: Request, ctx: WorkspaceContext) -> Response:
        body = await request.json(ExperienceUpdate)
        key = request.path_params["key"]
        updated = await database.run(service.update_experience, ctx.workspace_id, key, body)
        on_change(ctx.workspace_id)
        return json_response(updated)

    async def remove(request: Request, ctx: WorkspaceContext) -> Response:
        await database.run(service.delete_experience, ctx.workspace_id, request.path_params["key"])
        on_change(ctx.workspace_id)
        return empty_response(204)

    def report_of(conn: Connection, workspace_id: str, key: str) -> reports.SurfaceReport:
        row = service.experience_row(conn, workspace_id, key)
        return reports.surface_report(conn, workspace_id, row.id, catalog)

    async def report(request: Request, ctx: WorkspaceContext) -> Response:
        key = request.path_params["key"]
        return json_response(await database.run_read(report_of, ctx.workspace_id, key))

    one = "/api/experiences/{key}"
    return [
        routes.route(
            "POST",
            "/api/experiences",
            create,
            name="create_experience",
            summary="Create an experience with its variations, allocation and schedule",
            tags=TAGS,
            body=ExperienceCreate,
            response=ExperiencePublic,
            status=201,
            errors=(409, 422),
        ),
        routes.route(
            "GET",
            "/api/experiences",
            list_all,
            name="list_experiences",
            summary="Experiences",
            tags=TAGS,
            response=Page[ExperiencePublic],
            paged=True,
            errors=(422,),
        ),
        routes.route(
            "GET",
            one,
            get,
            name="get_experience",
            summary="An experience",
            tags=TAGS,
            response=ExperiencePublic,
            errors=(404,),
        ),
        routes.route(
            "PATCH",
            one,
            patch,
            name="update_experience",
            summary="Change an experience (status, schedule, audience, variations, …)",
            tags=TAGS,
            body=ExperienceUpdate,
            response=ExperiencePublic,
            errors=(404, 422),
        ),
        routes.route(
            "DELETE",
            one,
            remove,
            name="delete_experience",
            summary="Delete an experience (its assignments are kept for reports)",
            tags=TAGS,
            status=204,
            errors=(404,),
        ),
        routes.route(
            "GET",
            "/api/experiences/{key}/report",
            report,
            name="experience_report",
            summary="Assignments, exposures, conversions per variation; uplift over holdout",
            tags=TAGS,
            response=reports.SurfaceReport,
            errors=(404,),
        ),
    ]
