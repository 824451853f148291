"""Management API routes for profiles."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rapport.api.http import Param, Request, Response, Route, empty_response, json_response
from rapport.api.management import ManagementRoutes, WorkspaceContext
from rapport.core.db import Database
from rapport.core.pagination import Page, parse_page_request
from rapport.profiles import service
from rapport.profiles.schemas import EventPublic, ProfilePublic, ProfileSummary

TAGS = ("Profiles",)


def build_routes(
    routes: ManagementRoutes,
    database: Database,
    erase_hooks: Sequence[service.EraseHook] = (),
    after_erase: Sequence[Callable[[str], None]] = (),
) -> list[Route]:
    """``erase_hooks`` run inside the erasure's transaction; ``after_erase`` with the
    workspace id once it is committed (caches of the person may go then)."""

    async def list_profiles(request: Request, ctx: WorkspaceContext) -> Response:
        page = parse_page_request(request.query)
        found = await database.run_read(
            service.list_profiles, ctx.workspace_id, page, request.query
        )
        return json_response(found)

    async def get_profile(request: Request, ctx: WorkspaceContext) -> Response:
        profile_id = request.path_params["id"]
        return json_response(
            await database.run_read(service.get_profile, ctx.workspace_id, profile_id)
        )

    async def list_events(request: Request, ctx: WorkspaceContext) -> Response:
        page = parse_page_request(request.query)
        profile_id = request.path_params["id"]
        return json_response(
            await database.run_read(service.list_events, ctx.workspace_id, profile_id, page)
        )

    async def workspace_events(request: Request, ctx: WorkspaceContext) -> Response:
        page = parse_page_request(request.query)
        return json_response(
            await database.run_read(
                service.list_workspace_events, ctx.workspace_id, page, request.query
            )
        )

    async def erase(request: Request, ctx: WorkspaceContext) -> Response:
        await database.run(
            service.erase_profile, ctx.workspace_id, request.path_params["id"], erase_hooks
        )
        for hook in after_erase:
            hook(ctx.workspace_id)
        return empty_response(204)

    search = (
        Param("identity", "query", "Profiles with this identity value (any kind)."),
        Param("kind", "query", "Restrict `identity` to one kind (external_id, anonymous_id, …)."),
        Param("property", "query", "Profiles whose property of this name …"),
        Param("value", "query", "… equals this value (JSON scalars: 5, true, or text)."),
    )
    event_filters = (
        Param("name", "query", "Only events of this exact name."),
        Param(
            "category",
            "query",
            "Only events of this category.",
            schema={"type": "string", "enum": list(service.EVENT_CATEGORIES)},
        ),
        Param(
            "source",
            "query",
            "Only events that came through this dialect.",
            schema={"type": "string", "enum": list(service.EVENT_SOURCES)},
        ),
        Param("profile_id", "query", "Only events of this profile."),
        Param(
            "since",
            "query",
            "Only events that occurred at or after this time (ISO 8601).",
            schema={"type": "string", "format": "date-time"},
        ),
    )
    return [
        routes.route(
            "GET",
            "/api/events",
            workspace_events,
            name="list_events",
            summary="The workspace's events, newest first by event time, with filters",
            tags=("Events",),
            response=Page[EventPublic],
            paged=True,
            params=event_filters,
            errors=(422,),
        ),
        routes.route(
            "GET",
            "/api/profiles",
            list_profiles,
            name="list_profiles",
            summary="Profiles, searchable by any identity or a property",
            tags=TAGS,
            response=Page[ProfileSummary],
            paged=True,
            params=search,
            errors=(422,),
        ),
        routes.route(
            "GET",
            "/api/profiles/{id}",
            get_profile,
            name="get_profile",
            summary="A profile: identities, properties, computed fields and devices",
            tags=TAGS,
            response=ProfilePublic,
            errors=(404,),
        ),
        routes.route(
            "GET",
            "/api/profiles/{id}/events",
            list_events,
            name="list_profile_events",
            summary="A profile's events, newest first",
            tags=TAGS,
            response=Page[EventPublic],
            paged=True,
            errors=(404, 422),
        ),
        routes.route(
            "DELETE",
            "/api/profiles/{id}",
            erase,
            name="erase_profile",
            summary="Erase a person (events, identities, devices, learning) and suppress them",
            tags=TAGS,
            status=204,
            errors=(404,),
        ),
    ]
