"""Management API routes for activity figures, ingestion errors and report trends."""

from __future__ import annotations

from sqlalchemy import Connection

from rapport.api.http import Param, Request, Response, Route, json_response
from rapport.api.management import ManagementRoutes, WorkspaceContext
from rapport.core.clock import from_timestamp
from rapport.core.db import Database
from rapport.core.errors import ValidationFailed
from rapport.core.pagination import Page, encode_cursor, parse_page_request
from rapport.experiences import service as experiences
from rapport.stats import service
from rapport.stats.errorlog import DIALECTS, IngestionErrorLog
from rapport.stats.schemas import Activity, IngestionErrorPublic, ReportTrend, Summary
from rapport.surfaces import service as surfaces

TAGS = ("Activity",)


def _window_params(minutes: int, bucket: int) -> tuple[Param, ...]:
    return (
        Param(
            "minutes",
            "query",
            "How far back to look.",
            schema={"type": "integer", "default": minutes, "minimum": 1},
        ),
        Param(
            "bucket_seconds",
            "query",
            "Width of one bucket (60-86400).",
            schema={"type": "integer", "default": bucket, "minimum": 60, "maximum": 86400},
        ),
    )


def build_routes(
    routes: ManagementRoutes, database: Database, errors: IngestionErrorLog
) -> list[Route]:
    """``/api/stats/...``, ``/api/ingestion-errors`` and the report trends."""

    async def activity(request: Request, ctx: WorkspaceContext) -> Response:
        minutes, bucket = service.window(request.query, 60, 60)
        found = await database.run_read(service.activity, ctx.workspace_id, minutes, bucket)
        return json_response(found)

    async def summary(request: Request, ctx: WorkspaceContext) -> Response:
        return json_response(await database.run_read(service.summary, ctx.workspace_id, errors))

    async def ingestion_errors(request: Request, ctx: WorkspaceContext) -> Response:
        page = parse_page_request(request.query)
        dialect = request.query.get("dialect", [None])[-1]
        if dialect is not None and dialect not in DIALECTS:
            raise ValidationFailed.single(
                ["query", "dialect"], f"dialect must be one of {', '.join(DIALECTS)}"
            )
        if page.after is not None and not isinstance(page.after, int):
            raise ValidationFailed.single(["query", "next_token"], "next_token is not valid")
        found = list(errors.newest_first(ctx.workspace_id, dialect, page.after))
        shown = found[: page.limit]
        data = [
            IngestionErrorPublic(
                at=from_timestamp(e.at),
                dialect=e.dialect,
                path=e.path,
                status=e.status,
                code=e.code,
                message=e.message,
            )
            for e in shown
        ]
        more = len(found) > page.limit
        return json_response(
            Page(
                data=data,
                next_token=encode_cursor(shown[-1].seq) if more else None,
                total=len(found) if page.with_total and page.after is None else None,
            )
        )

    def surface_trend(
        conn: Connection, workspace_id: str, surface_id: str, minutes: int, bucket: int
    ) -> ReportTrend:
        surfaces.get_surface(conn, workspace_id, surface_id)
        return service.report_trend(conn, workspace_id, surface_id, minutes, bucket)

    def experience_trend(
        conn: Connection, workspace_id: str, key: str, minutes: int, bucket: int
    ) -> ReportTrend:
        row = experiences.experience_row(conn, workspace_id, key)
        return service.report_trend(conn, workspace_id, row.id, minutes, bucket)

    async def trend_of_surface(request: Request, ctx: WorkspaceContext) -> Response:
        minutes, bucket = service.window(request.query, 1440, 3600, service.MAX_TREND_POINTS)
        surface_id = request.path_params["id"]
        found = await database.run_read(
            surface_trend, ctx.workspace_id, surface_id, minutes, bucket
        )
        return json_response(found)

    async def trend_of_experience(request: Request, ctx: WorkspaceContext) -> Response:
        minutes, bucket = service.window(request.query, 1440, 3600, service.MAX_TREND_POINTS)
        key = request.path_params["key"]
        found = await database.run_read(experience_trend, ctx.workspace_id, key, minutes, bucket)
        return json_response(found)

    trend = _window_params(1440, 3600)
    return [
        routes.route(
            "GET",
            "/api/stats/activity",
            activity,
            name="activity",
            summary="Events, decisions and conversions per time bucket (at most 1,440 buckets)",
            tags=TAGS,
            response=Activity,
            params=_window_params(60, 60),
            errors=(422,),
        ),
        routes.route(
            "GET",
            "/api/stats/summary",
            summary,
            name="activity_summary",
            summary="Profiles, processing backlog and lag, ingestion errors per dialect",
            tags=TAGS,
            response=Summary,
        ),
        routes.route(
            "GET",
            "/api/ingestion-errors",
            ingestion_errors,
            name="list_ingestion_errors",
            summary="Recently rejected ingestion requests, newest first (kept per process)",
            tags=TAGS,
            response=Page[IngestionErrorPublic],
            paged=True,
            params=(
                Param(
                    "dialect",
                    "query",
                    "Only errors of this dialect.",
                    schema={"type": "string", "enum": list(DIALECTS)},
                ),
            ),
            errors=(422,),
        ),
        routes.route(
            "GET",
            "/api/surfaces/{id}/report/trend",
            trend_of_surface,
            name="surface_report_trend",
            summary="Cumulative rates and uplift over the holdout, per bucket (≤ 200 points)",
            tags=("Surfaces",),
            response=ReportTrend,
            params=trend,
            errors=(404, 422),
        ),
        routes.route(
            "GET",
            "/api/experiences/{key}/report/trend",
            trend_of_experience,
            name="experience_report_trend",
            summary="Cumulative rates and uplift over the holdout, per bucket (≤ 200 points)",
            tags=("Experiences",),
            response=ReportTrend,
            params=trend,
            errors=(404, 422),
        ),
    ]
