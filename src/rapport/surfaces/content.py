"""The Content API (Aampe-compatible): ``GET /v1/surface/content``.

``X-API-Key: <surfaces key>``. One item per surface served, in the order asked:
``{surface_id, assignment_id, n_alternates, control: {min_gap_days}, alternates:
[{alternate_assignment_id}]}`` and, beyond that contract, the chosen ``variant`` (id,
labels, payload) and the ``policy`` that chose it, so the app can render without a
second lookup. A surface with nothing personalized for this user (holdout, frequency
gap, paused) is skipped unless ``allow_unassigned=true``, which returns its default.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import msgspec

from rapport.api.http import Param, Request, Response, Route
from rapport.core.errors import NotFound, ValidationFailed
from rapport.core.keys import KeyKind
from rapport.decide.context import DEVICE_TYPES, device_type
from rapport.decide.engine import Decider, Decision
from rapport.workspaces.auth import KeyAuthenticator

SURFACES = frozenset({KeyKind.SURFACES})
RESERVED = frozenset({"contact_id", "surface_id", "allow_unassigned", "device_type"})
MAX_SURFACES = 50


class AlternateRef(msgspec.Struct):
    alternate_assignment_id: str


class ControlOut(msgspec.Struct):
    min_gap_days: float


class VariantOut(msgspec.Struct):
    id: str
    name: str
    labels: dict[str, str]
    payload: dict[str, Any]


class SurfaceContent(msgspec.Struct):
    """One surface's content for one user (documents the response; see ``_encoded``)."""

    surface_id: str
    assignment_id: str
    n_alternates: int
    control: ControlOut
    alternates: list[AlternateRef]
    variant: VariantOut
    policy: str


class _EncodedContent(msgspec.Struct):
    """:class:`SurfaceContent` as encoded: the alternates written as ready JSON."""

    surface_id: str
    assignment_id: str
    n_alternates: int
    control: ControlOut
    alternates: msgspec.Raw
    variant: VariantOut
    policy: str


_encoder = msgspec.json.Encoder()
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _surface_ids(query: dict[str, list[str]]) -> list[str]:
    raw = query.get("surface_id", [])
    if not raw:
        raise ValidationFailed.single(["query", "surface_id"], "surface_id is required", "missing")
    if len(raw) > MAX_SURFACES:
        raise ValidationFailed.single(
            ["query", "surface_id"], f"At most {MAX_SURFACES} surfaces per request"
        )
    ids: list[str] = []
    for index, value in enumerate(raw):
        if _CANONICAL_UUID.fullmatch(value):
            ids.append(value)  # already as str(UUID(value)) would write it
            continue
        try:
            ids.append(str(uuid.UUID(value)))
        except ValueError:
            raise ValidationFailed.single(
                ["query", "surface_id", index], f"{value!r} is not a UUID", "uuid_parsing"
            ) from None
    return list(dict.fromkeys(ids))


def _flag(query: dict[str, list[str]], name: str) -> bool:
    raw = (_one(query, name) or "false").lower()
    if raw not in {"true", "false", "1", "0"}:
        raise ValidationFailed.single(
            ["query", name], f"{name} must be true or false", "bool_parsing"
        )
    return raw in {"true", "1"}


def _alternates_json(decision: Decision) -> bytes:
    """``[{"alternate_assignment_id": …}, …]``: ids are ours (UUID and rank), so they
    need no escaping and are joined directly rather than built as objects."""
    ids = decision.alternate_ids()
    if not ids:
        return b"[]"
    middle = '"},{"alternate_assignment_id":"'.join(ids)
    return f'[{{"alternate_assignment_id":"{middle}"}}]'.encode()


def _encoded(decision: Decision) -> bytes:
    """The decision's item as JSON, encoded once per decision object."""
    encoded = decision.renderings.get("content")
    if encoded is None:
        variant = decision.variant
        encoded = _encoder.encode(
            _EncodedContent(
                surface_id=decision.surface_id,
                assignment_id=decision.assignment_id,
                n_alternates=len(decision.alternates),
                control=ControlOut(decision.min_gap_days),
                alternates=msgspec.Raw(_alternates_json(decision)),
                variant=VariantOut(variant.id, variant.name, variant.labels, variant.payload),
                policy=decision.policy,
            )
        )
        decision.renderings["content"] = encoded
    return encoded


def build_routes(keys: KeyAuthenticator, decider: Decider) -> list[Route]:
    async def content(request: Request) -> Response:
        principal = await keys.authenticate(request.header(b"x-api-key"), SURFACES)
        query = request.query
        contact_id = _one(query, "contact_id")
        if not contact_id or len(contact_id) > 255:
            raise ValidationFailed.single(
                ["query", "contact_id"], "contact_id is required (1-255 characters)", "missing"
            )
        surface_ids = _surface_ids(query)
        allow_unassigned = _flag(query, "allow_unassigned")
        device = _one(query, "device_type")
        if device is not None and device not in DEVICE_TYPES:
            raise ValidationFailed.single(
                ["query", "device_type"], f"device_type must be one of {', '.join(DEVICE_TYPES)}"
            )
        user_agent = request.header(b"user-agent")
        device = device or device_type(user_agent)
        # Every other query parameter is an in-session attribute (utm_medium=email).
        session = {k: v[-1] for k, v in query.items() if k not in RESERVED and v}
        decisions = await decider.decide(
            principal.workspace_id,
            contact_id,
            surface_ids,
            device=device,
            session=session,
            client_ip=request.client_ip,
            user_agent=user_agent,
        )
        items = [
            _encoded(d)
            for d in decisions.values()
            if d is not None and (d.personalized or allow_unassigned)
        ]
        if not items:
            unknown = [s for s, d in decisions.items() if d is None]
            message = (
                "No requested surface exists"
                if len(unknown) == len(decisions)
                else "Nothing is personalized for this contact on the requested surfaces"
            )
            raise NotFound(message, code="no_content")
        return Response(b"[" + b",".join(items) + b"]")

    return [
        Route(
            "GET",
            "/v1/surface/content",
            content,
            name="surface_content",
            summary="What this contact should see on these surfaces",
            tags=("Content API (Aampe)",),
            response=list[SurfaceContent],
            security="surfacesKey",
            params=(
                Param("contact_id", "query", "The user (external id or anonymous id).", True),
                Param(
                    "surface_id",
                    "query",
                    "A surface UUID; repeat for several.",
                    True,
                    {"type": "string", "format": "uuid"},
                ),
                Param(
                    "allow_unassigned",
                    "query",
                    "Return the default variant where nothing is personalized.",
                    schema={"type": "boolean", "default": False},
                ),
                Param(
                    "device_type",
                    "query",
                    "mobile, tablet or desktop (default: from the User-Agent).",
                ),
            ),
            errors=(401, 403, 404, 421, 422),
        )
    ]
