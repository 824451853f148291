"""Management API routes: a surface's report and a user's agent."""

from __future__ import annotations

from rapport.api.http import Request, Response, Route, json_response
from rapport.api.management import ManagementRoutes, WorkspaceContext
from rapport.core.db import Database
from rapport.decide import reports
from rapport.decide.catalog import Catalog


def build_routes(routes: ManagementRoutes, database: Database, catalog: Catalog) -> list[Route]:
    async def surface_report(request: Request, ctx: WorkspaceContext) -> Response:
        report = await database.run_read(
            reports.surface_report, ctx.workspace_id, request.path_params["id"], catalog
        )
        return json_response(report)

    async def agent(request: Request, ctx: WorkspaceContext) -> Response:
        view = await database.run_read(
            reports.agent_view, ctx.workspace_id, request.path_params["id"], catalog
        )
        return json_response(view)

    return [
        routes.route(
            "GET",
            "/api/surfaces/{id}/report",
            surface_report,
            name="surface_report",
            summary="Exposures, conversions and rates per variant; uplift over the holdout",
            tags=("Surfaces",),
            response=reports.SurfaceReport,
            errors=(404,),
        ),
        routes.route(
            "GET",
            "/api/profiles/{id}/agent",
            agent,
            name="profile_agent",
            summary="A user's agent: preferences per dimension with uncertainty",
            tags=("Profiles",),
            response=reports.AgentView,
            errors=(404,),
        ),
    ]
