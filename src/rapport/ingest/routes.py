"""HTTP endpoints of the three ingestion dialects.

Each one authenticates, validates the whole request, translates it into canonical
messages and waits for the group commit: a 2xx means the data is in the database;
a rejected request stores nothing.
"""

from __future__ import annotations

from rapport.api.http import Endpoint, Request, Response, Route, empty_response, json_response
from rapport.api.management import basic_auth, bearer
from rapport.core.db import Database
from rapport.core.errors import RapportError
from rapport.core.keys import KeyKind
from rapport.ingest import aampe, parcelvoy, segment, service
from rapport.ingest import messages as msg
from rapport.ingest.common import inbox_rows
from rapport.ingest.writer import GroupCommitter
from rapport.stats.errorlog import IngestionErrorLog
from rapport.workspaces.auth import KeyAuthenticator, Principal

INGEST = frozenset({KeyKind.INGEST})
# The client dialects may be called from apps, where only a public key is safe.
CLIENT = frozenset({KeyKind.PUBLIC, KeyKind.INGEST})
# Segment write keys are embedded in browsers and apps too.
TRACKING = frozenset({KeyKind.INGEST, KeyKind.PUBLIC})


def basic_username(request: Request) -> str | None:
    """The user name of an ``Authorization: Basic`` header (Segment's write key)."""
    credentials = basic_auth(request)
    return (credentials[0] or None) if credentials is not None else None


def recorded(dialect: str, endpoint: Endpoint, log: IngestionErrorLog | None) -> Endpoint:
    """``endpoint``, with its rejections of authenticated senders logged for the console
    (an unauthenticated request belongs to no workspace)."""
    if log is None:
        return endpoint

    async def wrapped(request: Request) -> Response:
        try:
            return await endpoint(request)
        except RapportError as error:
            workspace_id = request.state.get("workspace_id")
            if workspace_id is not None:
                log.record(
                    workspace_id, dialect, request.path, error.status, error.code, error.message
                )
            raise

    return wrapped


def build_routes(
    keys: KeyAuthenticator,
    committer: GroupCommitter,
    database: Database,
    errors_log: IngestionErrorLog | None = None,
) -> list[Route]:
    """Ingestion API (Aampe), Client API (Parcelvoy) and Tracking API (Segment)."""
    authenticate = keys.authenticate

    async def authorized(
        request: Request, credential: str | None, kinds: frozenset[KeyKind]
    ) -> Principal:
        principal = await authenticate(credential, kinds)
        request.state["workspace_id"] = principal.workspace_id
        return principal

    async def store(principal: Principal, messages: list[msg.Message]) -> None:
        await committer.submit(inbox_rows(principal.workspace_id, messages))

    # -- Aampe ------------------------------------------------------------------
    async def aampe_events(request: Request) -> Response:
        principal = await authorized(request, bearer(request), INGEST)
        messages = aampe.events(await request.json(aampe.EventsBody))
        await store(principal, messages)
        return json_response(aampe.Accepted(len(messages)), 202)

    async def aampe_properties(request: Request) -> Response:
        principal = await authorized(request, bearer(request), INGEST)
        messages = aampe.properties(await request.json(aampe.PropertiesBody))
        await store(principal, messages)
        return json_response(aampe.Accepted(len(messages)), 202)

    # -- Parcelvoy ----------------------------------------------------------------
    async def client_alias(request: Request) -> Response:
        principal = await authorized(request, bearer(request), CLIENT)
        message = parcelvoy.alias(await request.json(parcelvoy.ClientAlias))
        rows = inbox_rows(principal.workspace_id, [message])
        await database.run(service.record_alias, principal.workspace_id, message, rows)
        return empty_response(204)

    async def client_identify(request: Request) -> Response:
        principal = await authorized(request, bearer(request), CLIENT)
        await store(principal, [parcelvoy.identify(await request.json(parcelvoy.ClientIdentify))])
        return empty_response(204)

    async def client_devices(request: Request) -> Response:
        principal = await authorized(request, bearer(request), CLIENT)
        await store(principal, [parcelvoy.device(await request.json(parcelvoy.ClientDevice))])
        return empty_response(204)

    async def client_events(request: Request) -> Response:
        principal = await authorized(request, bearer(request), CLIENT)
        await store(principal, parcelvoy.events(await request.json(parcelvoy.ClientEvents)))
        return empty_response(204)

    # -- Segment ------------------------------------------------------------------
    success = segment.Success()

    async def segment_batch(request: Request) -> Response:
        principal = await authorized(request, basic_username(request), TRACKING)
        request.require_json()
        await store(principal, segment.batch(await request.body()))
        return json_response(success)

    def segment_single(kind: str) -> Route:
        async def endpoint(request: Request) -> Response:
            principal = await authorized(request, basic_username(request), TRACKING)
            request.require_json()
            await store(principal, segment.single(await request.body(), kind))
            return json_response(success)

        return Route(
            "POST",
            f"/v1/{kind}",
            recorded("segment", endpoint, errors_log),
            name=f"segment_{kind}",
            summary=f"Segment {kind} call",
            tags=("Tracking API (Segment)",),
            body=segment.SegmentMessage,
            response=segment.Success,
            security="writeKey",
            errors=(400, 401, 403, 413, 415, 421, 422),
            max_body=segment.MAX_MESSAGE_BYTES,
        )

    errors = (400, 401, 403, 413, 415, 421, 422)
    aampe_tag, client_tag = ("Ingestion API (Aampe)",), ("Client API (Parcelvoy)",)
    return [
        Route(
            "POST",
            "/v1/events",
            recorded("aampe", aampe_events, errors_log),
            name="aampe_events",
            summary="Send one event or an array of events",
            tags=aampe_tag,
            body=aampe.EventsBody,
            response=aampe.Accepted,
            status=202,
            security="ingestKey",
            errors=errors,
        ),
        Route(
            "POST",
            "/v1/properties",
            recorded("aampe", aampe_properties, errors_log),
            name="aampe_properties",
            summary="Update a contact's properties (also recorded as an event)",
            tags=aampe_tag,
            body=aampe.PropertiesBody,
            response=aampe.Accepted,
            status=202,
            security="ingestKey",
            errors=errors,
        ),
        Route(
            "POST",
            "/api/client/alias",
            recorded("parcelvoy", client_alias, errors_log),
            name="client_alias",
            summary="Merge an anonymous user into a known one (once per anonymous id)",
            tags=client_tag,
            body=parcelvoy.ClientAlias,
            status=204,
            security="publicKey",
            errors=(*errors, 409),
        ),
        Route(
            "POST",
            "/api/client/identify",
            recorded("parcelvoy", client_identify, errors_log),
            name="client_identify",
            summary="Identify a user and set their data",
            tags=client_tag,
            body=parcelvoy.ClientIdentify,
            status=204,
            security="publicKey",
            errors=errors,
        ),
        Route(
            "POST",
            "/api/client/devices",
            recorded("parcelvoy", client_devices, errors_log),
            name="client_devices",
            summary="Register a device and its push token",
            tags=client_tag,
            body=parcelvoy.ClientDevice,
            status=204,
            security="publicKey",
            errors=errors,
        ),
        Route(
            "POST",
            "/api/client/events",
            recorded("parcelvoy", client_events, errors_log),
            name="client_events",
            summary="Send events",
            tags=client_tag,
            body=parcelvoy.ClientEvents,
            status=204,
            security="publicKey",
            errors=errors,
        ),
        Route(
            "POST",
            "/v1/batch",
            recorded("segment", segment_batch, errors_log),
            name="segment_batch",
            summary="Segment batch of calls",
            tags=("Tracking API (Segment)",),
            body=segment.SegmentBatch,
            response=segment.Success,
            security="writeKey",
            errors=errors,
            max_body=segment.MAX_BATCH_BYTES,
        ),
        *(segment_single(kind) for kind in segment.TYPES),
    ]
