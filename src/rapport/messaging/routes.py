"""Management API routes for campaigns."""

from __future__ import annotations

from collections.abc import Callable

from rapport.api.http import Request, Response, Route, empty_response, json_response
from rapport.api.management import ManagementRoutes, WorkspaceContext
from rapport.core.db import Database
from rapport.core.pagination import Page, parse_page_request
from rapport.messaging import service
from rapport.messaging.schemas import (
    CampaignCreate,
    CampaignPublic,
    CampaignReport,
    CampaignUpdate,
    SendPublic,
)

TAGS = ("Campaigns",)
_ACTIONS = {
    "schedule": "Schedule a draft: it starts at `starts_at` (or at once)",
    "pause": "Pause: nothing more is sent until it resumes",
    "resume": "Resume a paused campaign",
    "complete": "End the campaign: sends not yet made are dropped",
}


def build_routes(
    routes: ManagementRoutes,
    database: Database,
    on_change: Callable[[], None] = lambda: None,
) -> list[Route]:
    """``on_change()``: the orchestrator looks at campaigns now rather than at its next
    poll."""

    async def create(request: Request, ctx: WorkspaceContext) -> Response:
        body = await request.json(CampaignCreate)
        created = await database.run(service.create_campaign, ctx.workspace_id, body)
        return json_response(created, 201)

    async def list_all(request: Request, ctx: WorkspaceContext) -> Response:
        page = parse_page_request(request.query)
        return json_response(
            await database.run_read(service.list_campaigns, ctx.workspace_id, page)
        )

    async def get(request: Request, ctx: WorkspaceContext) -> Response:
        return json_response(
            await database.run_read(
                service.get_campaign, ctx.workspace_id, request.path_params["id"]
            )
        )

    async def patch(request: Request, ctx: WorkspaceContext) -> Response:
        body = await request.json(CampaignUpdate)
        updated = await database.run(
            service.update_campaign, ctx.workspace_id, request.path_params["id"], body
        )
        on_change()
        return json_response(updated)

    async def remove(request: Request, ctx: WorkspaceContext) -> Response:
        await database.run(service.delete_campaign, ctx.workspace_id, request.path_params["id"])
        return empty_response(204)

    def action(name: str) -> Callable[[Request, WorkspaceContext], object]:
        async def handle(request: Request, ctx: WorkspaceContext) -> Response:
            moved = await database.run(
                service.transition, ctx.workspace_id, request.path_params["id"], name
            )
            on_change()
            return json_response(moved)

        return handle

    async def report(request: Request, ctx: WorkspaceContext) -> Response:
        return json_response(
            await database.run_read(service.report, ctx.workspace_id, request.path_params["id"])
        )

    async def sends(request: Request, ctx: WorkspaceContext) -> Response:
        page = parse_page_request(request.query)
        return json_response(
            await database.run_read(
                service.list_sends, ctx.workspace_id, request.path_params["id"], page
            )
        )

    one = "/api/campaigns/{id}"
    built = [
        routes.route(
            "POST",
            "/api/campaigns",
            create,
            name="create_campaign",
            summary="Create a campaign (a draft until scheduled)",
            tags=TAGS,
            body=CampaignCreate,
            response=CampaignPublic,
            status=201,
            errors=(422,),
        ),
        routes.route(
            "GET",
            "/api/campaigns",
            list_all,
            name="list_campaigns",
            summary="Campaigns",
            tags=TAGS,
            response=Page[CampaignPublic],
            paged=True,
            errors=(422,),
        ),
        routes.route(
            "GET",
            one,
            get,
            name="get_campaign",
            summary="A campaign",
            tags=TAGS,
            response=CampaignPublic,
            errors=(404,),
        ),
        routes.route(
            "PATCH",
            one,
            patch,
            name="update_campaign",
            summary="Edit a draft, scheduled or paused campaign",
            tags=TAGS,
            body=CampaignUpdate,
            response=CampaignPublic,
            errors=(404, 409, 422),
        ),
        routes.route(
            "DELETE",
            one,
            remove,
            name="delete_campaign",
            summary="Delete a campaign that is not scheduled or running, and its sends",
            tags=TAGS,
            status=204,
            errors=(404, 409),
        ),
        routes.route(
            "GET",
            f"{one}/report",
            report,
            name="campaign_report",
            summary="Sent, delivered, failed, opened, clicked, converted; uplift; progress",
            tags=TAGS,
            response=CampaignReport,
            errors=(404,),
        ),
        routes.route(
            "GET",
            f"{one}/sends",
            sends,
            name="list_campaign_sends",
            summary="Every send of a campaign and its provider result",
            tags=TAGS,
            response=Page[SendPublic],
            paged=True,
            errors=(404, 422),
        ),
    ]
    for name, summary in _ACTIONS.items():
        built.append(
            routes.route(
                "POST",
                f"{one}/{name}",
                action(name),  # type: ignore[arg-type]
                name=f"{name}_campaign",
                summary=summary,
                tags=TAGS,
                response=CampaignPublic,
                errors=(404, 409, 422),
            )
        )
    return built
