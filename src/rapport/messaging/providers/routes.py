"""Management API routes for push providers."""

from __future__ import annotations

import logging

from rapport.api.http import Request, Response, Route, empty_response, json_response
from rapport.api.management import ManagementRoutes, WorkspaceContext
from rapport.core.db import Database
from rapport.core.pagination import Page, parse_page_request
from rapport.messaging.providers import registry, service
from rapport.messaging.providers.base import Outcome
from rapport.messaging.providers.schemas import (
    ProviderCreate,
    ProviderPublic,
    ProviderUpdate,
    SendTestRequest,
    SendTestResult,
)
from rapport.messaging.providers.service import ProviderRuntime

TAGS = ("Providers",)
log = logging.getLogger("rapport.providers")


def build_routes(
    routes: ManagementRoutes, database: Database, runtime: ProviderRuntime
) -> list[Route]:
    async def create(request: Request, ctx: WorkspaceContext) -> Response:
        body = await request.json(ProviderCreate)
        cipher = runtime.require_cipher()
        return json_response(
            await database.run(service.create_provider, ctx.workspace_id, body, cipher), 201
        )

    async def list_all(request: Request, ctx: WorkspaceContext) -> Response:
        page = parse_page_request(request.query)
        return json_response(
            await database.run_read(service.list_providers, ctx.workspace_id, page)
        )

    async def get(request: Request, ctx: WorkspaceContext) -> Response:
        provider_id = request.path_params["id"]
        return json_response(
            await database.run_read(service.get_provider, ctx.workspace_id, provider_id)
        )

    async def patch(request: Request, ctx: WorkspaceContext) -> Response:
        body = await request.json(ProviderUpdate)
        cipher = runtime.require_cipher()
        provider_id = request.path_params["id"]
        return json_response(
            await database.run(service.update_provider, ctx.workspace_id, provider_id, body, cipher)
        )

    async def remove(request: Request, ctx: WorkspaceContext) -> Response:
        await database.run(service.delete_provider, ctx.workspace_id, request.path_params["id"])
        return empty_response(204)

    async def test(request: Request, ctx: WorkspaceContext) -> Response:
        body = await request.json(SendTestRequest)
        cipher = runtime.require_cipher()
        target = await database.run_read(
            service.probe_target, ctx.workspace_id, request.path_params["id"], body, cipher
        )
        provider = registry.build_provider(
            target.kind, target.settings, target.secret, tls=runtime.tls
        )
        message = service.probe_message(body)
        try:
            sent = await provider.send(message, target.recipient)
        finally:
            await provider.aclose()
        retired = False
        if sent.outcome is Outcome.INVALID_TOKEN:
            retired = await database.run(service.retire, ctx.workspace_id, target.recipient)
        log.info(
            "provider test send",
            extra={"provider_id": request.path_params["id"], "outcome": str(sent.outcome)},
        )
        return json_response(
            service.result(sent.outcome, message.send_id, target.recipient, sent, retired)
        )

    one = "/api/providers/{id}"
    return [
        routes.route(
            "POST",
            "/api/providers",
            create,
            name="create_provider",
            summary="Save a push provider; credentials are checked, encrypted, never shown again",
            tags=TAGS,
            body=ProviderCreate,
            response=ProviderPublic,
            status=201,
            errors=(422, 503),
        ),
        routes.route(
            "GET",
            "/api/providers",
            list_all,
            name="list_providers",
            summary="Push providers",
            tags=TAGS,
            response=Page[ProviderPublic],
            paged=True,
            errors=(422,),
        ),
        routes.route(
            "GET",
            one,
            get,
            name="get_provider",
            summary="A push provider (without its credentials)",
            tags=TAGS,
            response=ProviderPublic,
            errors=(404,),
        ),
        routes.route(
            "PATCH",
            one,
            patch,
            name="update_provider",
            summary="Rename a provider, change settings or replace its credentials",
            tags=TAGS,
            body=ProviderUpdate,
            response=ProviderPublic,
            errors=(404, 422, 503),
        ),
        routes.route(
            "DELETE",
            one,
            remove,
            name="delete_provider",
            summary="Delete a provider",
            tags=TAGS,
            status=204,
            errors=(404,),
        ),
        routes.route(
            "POST",
            f"{one}/test",
            test,
            name="test_provider",
            summary="Send one message to one device or profile and show the mapped answer",
            tags=TAGS,
            body=SendTestRequest,
            response=SendTestResult,
            errors=(404, 422, 503),
        ),
    ]
