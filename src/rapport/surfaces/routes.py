"""Management API routes for surfaces and variants."""

from __future__ import annotations

from collections.abc import Callable

from rapport.api.http import Request, Response, Route, empty_response, json_response
from rapport.api.management import ManagementRoutes, WorkspaceContext
from rapport.core.db import Database
from rapport.core.pagination import Page, parse_page_request
from rapport.surfaces import service
from rapport.surfaces.schemas import (
    SurfaceCreate,
    SurfacePublic,
    SurfaceSummary,
    SurfaceUpdate,
    VariantCreate,
    VariantPublic,
    VariantUpdate,
)

TAGS = ("Surfaces",)


def build_routes(
    routes: ManagementRoutes,
    database: Database,
    on_change: Callable[[str], None] = lambda workspace_id: None,
) -> list[Route]:
    """``on_change(workspace_id)`` lets this process's decision caches drop the old
    surface at once (other processes see it within their cache's time to live)."""

    async def create(request: Request, ctx: WorkspaceContext) -> Response:
        body = await request.json(SurfaceCreate)
        created = await database.run(service.create_surface, ctx.workspace_id, body)
        on_change(ctx.workspace_id)
        return json_response(created, 201)

    async def list_all(request: Request, ctx: WorkspaceContext) -> Response:
        page = parse_page_request(request.query)
        return json_response(await database.run_read(service.list_surfaces, ctx.workspace_id, page))

    async def get(request: Request, ctx: WorkspaceContext) -> Response:
        surface_id = request.path_params["id"]
        return json_response(
            await database.run_read(service.get_surface, ctx.workspace_id, surface_id)
        )

    async def patch(request: Request, ctx: WorkspaceContext) -> Response:
        body = await request.json(SurfaceUpdate)
        surface_id = request.path_params["id"]
        updated = await database.run(service.update_surface, ctx.workspace_id, surface_id, body)
        on_change(ctx.workspace_id)
        return json_response(updated)

    async def remove(request: Request, ctx: WorkspaceContext) -> Response:
        await database.run(service.delete_surface, ctx.workspace_id, request.path_params["id"])
        on_change(ctx.workspace_id)
        return empty_response(204)

    async def add_variant(request: Request, ctx: WorkspaceContext) -> Response:
        body = await request.json(VariantCreate)
        surface_id = request.path_params["id"]
        created = await database.run(service.add_variant, ctx.workspace_id, surface_id, body)
        on_change(ctx.workspace_id)
        return json_response(created, 201)

    async def patch_variant(request: Request, ctx: WorkspaceContext) -> Response:
        body = await request.json(VariantUpdate)
        params = request.path_params
        updated = await database.run(
            service.update_variant, ctx.workspace_id, params["id"], params["variant_id"], body
        )
        on_change(ctx.workspace_id)
        return json_response(updated)

    async def remove_variant(request: Request, ctx: WorkspaceContext) -> Response:
        params = request.path_params
        await database.run(
            service.delete_variant, ctx.workspace_id, params["id"], params["variant_id"]
        )
        on_change(ctx.workspace_id)
        return empty_response(204)

    one = "/api/surfaces/{id}"
    variant = "/api/surfaces/{id}/variants/{variant_id}"
    return [
        routes.route(
            "POST",
            "/api/surfaces",
            create,
            name="create_surface",
            summary="Create a surface with its variants, control settings and reward",
            tags=TAGS,
            body=SurfaceCreate,
            response=SurfacePublic,
            status=201,
            errors=(422,),
        ),
        routes.route(
            "GET",
            "/api/surfaces",
            list_all,
            name="list_surfaces",
            summary="Surfaces",
            tags=TAGS,
            response=Page[SurfaceSummary],
            paged=True,
            errors=(422,),
        ),
        routes.route(
            "GET",
            one,
            get,
            name="get_surface",
            summary="A surface with its variants",
            tags=TAGS,
            response=SurfacePublic,
            errors=(404,),
        ),
        routes.route(
            "PATCH",
            one,
            patch,
            name="update_surface",
            summary="Change a surface's name, status, control settings or reward",
            tags=TAGS,
            body=SurfaceUpdate,
            response=SurfacePublic,
            errors=(404, 422),
        ),
        routes.route(
            "DELETE",
            one,
            remove,
            name="delete_surface",
            summary="Delete a surface and its variants (assignments are kept for reports)",
            tags=TAGS,
            status=204,
            errors=(404,),
        ),
        routes.route(
            "POST",
            "/api/surfaces/{id}/variants",
            add_variant,
            name="create_variant",
            summary="Add a variant",
            tags=TAGS,
            body=VariantCreate,
            response=VariantPublic,
            status=201,
            errors=(404, 422),
        ),
        routes.route(
            "PATCH",
            variant,
            patch_variant,
            name="update_variant",
            summary="Change a variant's name, payload, labels, or make it the default",
            tags=TAGS,
            body=VariantUpdate,
            response=VariantPublic,
            errors=(404, 422),
        ),
        routes.route(
            "DELETE",
            variant,
            remove_variant,
            name="delete_variant",
            summary="Delete a variant (not the default)",
            tags=TAGS,
            status=204,
            errors=(404, 409),
        ),
    ]
