"""Management API routes for the workspace and its API keys."""

from __future__ import annotations

from rapport.api.http import Request, Response, Route, empty_response, json_response
from rapport.api.management import ManagementRoutes, WorkspaceContext
from rapport.core.db import Database
from rapport.core.pagination import Page, parse_page_request
from rapport.workspaces import service
from rapport.workspaces.auth import KeyAuthenticator
from rapport.workspaces.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    EventCategories,
    WorkspacePublic,
    WorkspaceSettingsUpdate,
    WorkspaceUpdate,
)

TAG_WORKSPACE = ("Workspace",)
TAG_KEYS = ("API keys",)


def build_routes(
    routes: ManagementRoutes, database: Database, keys: KeyAuthenticator
) -> list[Route]:
    """The workspace and API key endpoints."""

    async def get_workspace(request: Request, ctx: WorkspaceContext) -> Response:
        return json_response(await database.run(service.get_workspace, ctx.workspace_id))

    async def patch_workspace(request: Request, ctx: WorkspaceContext) -> Response:
        change = await request.json(WorkspaceUpdate)
        updated = await database.run(service.update_workspace, ctx.workspace_id, change)
        return json_response(updated)

    async def list_keys(request: Request, ctx: WorkspaceContext) -> Response:
        page = parse_page_request(request.query)
        return json_response(await database.run(service.list_keys, ctx.workspace_id, page))

    async def create_key(request: Request, ctx: WorkspaceContext) -> Response:
        spec = await request.json(ApiKeyCreate)
        created = await database.run(service.create_key, ctx.workspace_id, spec.kind, spec.name)
        return json_response(created, 201)

    async def rotate_key(request: Request, ctx: WorkspaceContext) -> Response:
        key_id = request.path_params["id"]
        rotated = await database.run(service.rotate_key, ctx.workspace_id, key_id)
        keys.forget(key_id)
        return json_response(rotated)

    async def revoke_key(request: Request, ctx: WorkspaceContext) -> Response:
        key_id = request.path_params["id"]
        await database.run(service.revoke_key, ctx.workspace_id, key_id)
        keys.forget(key_id)
        return empty_response(204)

    return [
        routes.route(
            "GET",
            "/api/workspace",
            get_workspace,
            name="get_workspace",
            summary="The workspace and its settings",
            tags=TAG_WORKSPACE,
            response=WorkspacePublic,
        ),
        routes.route(
            "PATCH",
            "/api/workspace",
            patch_workspace,
            name="update_workspace",
            summary="Change the workspace's name or settings",
            tags=TAG_WORKSPACE,
            body=WorkspaceUpdate,
            response=WorkspacePublic,
            errors=(422,),
        ),
        routes.route(
            "GET",
            "/api/api-keys",
            list_keys,
            name="list_api_keys",
            summary="API keys of the workspace (never their secrets)",
            tags=TAG_KEYS,
            response=Page[ApiKeyPublic],
            paged=True,
            errors=(422,),
        ),
        routes.route(
            "POST",
            "/api/api-keys",
            create_key,
            name="create_api_key",
            summary="Create a key; its secret is shown only in this answer",
            tags=TAG_KEYS,
            body=ApiKeyCreate,
            response=ApiKeyCreated,
            status=201,
            errors=(422,),
        ),
        routes.route(
            "POST",
            "/api/api-keys/{id}/rotate",
            rotate_key,
            name="rotate_api_key",
            summary="New secret for a key; the old one stops working at once",
            tags=TAG_KEYS,
            response=ApiKeyCreated,
            errors=(404, 409),
        ),
        routes.route(
            "DELETE",
            "/api/api-keys/{id}",
            revoke_key,
            name="revoke_api_key",
            summary="Revoke a key for good",
            tags=TAG_KEYS,
            status=204,
            errors=(404,),
        ),
    ]


def build_category_routes(routes: ManagementRoutes, database: Database) -> list[Route]:
    """``/api/event-categories``: the workspace's event-name → category rules."""

    async def get_categories(request: Request, ctx: WorkspaceContext) -> Response:
        workspace = await database.run_read(service.get_workspace, ctx.workspace_id)
        return json_response(EventCategories(workspace.settings.event_categories))

    async def put_categories(request: Request, ctx: WorkspaceContext) -> Response:
        body = await request.json(EventCategories)
        change = WorkspaceUpdate(settings=WorkspaceSettingsUpdate(event_categories=body.rules))
        updated = await database.run(service.update_workspace, ctx.workspace_id, change)
        return json_response(EventCategories(updated.settings.event_categories))

    tags = ("Event categories",)
    return [
        routes.route(
            "GET",
            "/api/event-categories",
            get_categories,
            name="get_event_categories",
            summary="Rules that map event names (exact or glob) to categories and rewards",
            tags=tags,
            response=EventCategories,
        ),
        routes.route(
            "PUT",
            "/api/event-categories",
            put_categories,
            name="replace_event_categories",
            summary="Replace the rules; exact names win over globs, then the first glob",
            tags=tags,
            body=EventCategories,
            response=EventCategories,
            errors=(422,),
        ),
    ]
