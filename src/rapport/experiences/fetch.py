"""The Experiences API (MoEngage Personalize-compatible): ``POST /v1/experiences/fetch``.

HTTP Basic ``<workspace id>:<personalize secret>``, and the workspace id again in the
``MOE-APPKEY`` header. The body names the user (``identifiers.customer_id``, or
``user_identifiers.u_em`` / ``u_mb`` resolved through the identity graph), optionally
the ``experience_key`` list (none: every live experience the user qualifies for;
unknown keys are skipped), and in-session attributes: any other top-level key
(``utm_medium``…), ``DAY_OF_THE_WEEK``, ``TIME_OF_THE_DAY``, ``USER_IP_ADDRESS``,
``USER_AGENT``. Users nobody knows get population-level decisions.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

from rapport.api.http import Param, Request, Response, Route, json_response
from rapport.api.management import basic_auth
from rapport.api.validation import decode_json
from rapport.core.db import Database
from rapport.core.errors import Forbidden, Unauthorized, ValidationFailed
from rapport.core.keys import KeyKind
from rapport.decide.catalog import Catalog, SurfacePlan
from rapport.decide.engine import INELIGIBLE, Decider, Decision
from rapport.profiles import identity as ident
from rapport.workspaces.auth import KeyAuthenticator
from rapport.workspaces.schemas import WorkspaceSettings

PERSONALIZE = frozenset({KeyKind.PERSONALIZE})
WORKSPACE_HEADER = "moe-appkey"
Identifier = Annotated[str, Meta(min_length=1, max_length=255)]


class UserIdentifiers(Struct, kw_only=True):
    u_em: Identifier | None = None
    u_mb: Identifier | None = None


class Identifiers(Struct, kw_only=True):
    customer_id: Identifier | None = None
    user_identifiers: UserIdentifiers = msgspec.field(default_factory=UserIdentifiers)


class FetchRequest(Struct, kw_only=True):
    """The known fields; every other top-level key is an in-session attribute."""

    identifiers: Identifiers
    experience_key: (
        Annotated[list[Annotated[str, Meta(max_length=100)]], Meta(max_length=100)] | None
    ) = None
    DAY_OF_THE_WEEK: str | None = None
    TIME_OF_THE_DAY: str | int | None = None
    USER_IP_ADDRESS: str | None = None
    USER_AGENT: str | None = None


class ExperienceContext(Struct):
    """Echo it back with impression and click events (``experience_context``)."""

    assignment_id: str
    experience_id: str
    experience_key: str
    variation_id: str
    variation_name: str
    audience_id: str | None
    policy: str


class ExperienceOut(Struct):
    payload: dict[str, Any]
    experience_context: ExperienceContext


class FetchResponse(Struct):
    experiences: dict[str, ExperienceOut]


def _identities(
    identifiers: Identifiers, settings: WorkspaceSettings
) -> tuple[str, list[tuple[str, str]]]:
    """(the subject decisions are sticky to, the identities to find the person by)."""
    stored = (lambda v: v) if settings.pii_policy == "store" else ident.digest
    keys: list[tuple[str, str, str]] = []
    if identifiers.customer_id:
        keys.append((ident.EXTERNAL, identifiers.customer_id, identifiers.customer_id))
    email, mobile = identifiers.user_identifiers.u_em, identifiers.user_identifiers.u_mb
    if email:
        normal = ident.normalize_email(email)
        keys.append((ident.EMAIL, stored(normal), f"email:{normal}"))
    if mobile:
        normal = ident.normalize_phone(mobile)
        keys.append((ident.PHONE, stored(normal), f"phone:{normal}"))
    if not keys:
        raise ValidationFailed.single(
            ["body", "identifiers"], "customer_id, u_em or u_mb is required", "missing"
        )
    return keys[0][2], [(kind, value) for kind, value, _ in keys]


def _render(plan: SurfacePlan, decision: Decision) -> ExperienceOut:
    assert plan.key is not None
    return ExperienceOut(
        payload=decision.variant.payload,
        experience_context=ExperienceContext(
            assignment_id=decision.assignment_id,
            experience_id=plan.id,
            experience_key=plan.key,
            variation_id=decision.variant.id,
            variation_name=decision.variant.name,
            audience_id=plan.config.audience_id,
            policy=decision.policy,
        ),
    )


def build_routes(
    keys: KeyAuthenticator, database: Database, catalog: Catalog, decider: Decider
) -> list[Route]:
    reserved = frozenset({"identifiers", "experience_key"})

    async def fetch(request: Request) -> Response:
        credentials = basic_auth(request)
        if credentials is None or not credentials[0] or not credentials[1]:
            raise Unauthorized("Send HTTP Basic <workspace id>:<personalize secret>")
        workspace_name, secret = credentials
        principal = await keys.authenticate(secret, PERSONALIZE)
        if principal.workspace_id != workspace_name:
            raise Forbidden(
                "The secret does not belong to this workspace", code="workspace_mismatch"
            )
        header = request.headers.get(WORKSPACE_HEADER)
        if header is None:
            raise Unauthorized(f"Send the workspace id in the {WORKSPACE_HEADER.upper()} header")
        if header != workspace_name:
            raise Forbidden(
                f"{WORKSPACE_HEADER.upper()} does not match the credentials",
                code="workspace_mismatch",
            )
        request.require_json()
        raw = await request.body()
        body = decode_json(raw, FetchRequest)
        everything = decode_json(raw, dict[str, Any])
        session = {
            k: v
            for k, v in everything.items()
            if k not in reserved and isinstance(v, str | int | float | bool)
        }
        workspace_id = principal.workspace_id
        shared = catalog.current(workspace_id)
        if shared is None:
            shared = await database.run_read_local(catalog.refresh, workspace_id)
        subject, identities = _identities(body.identifiers, shared.settings)
        now = time.time()
        live = {p.key: p for p in shared.plans.values() if p.key is not None and p.live(now)}
        if body.experience_key is not None:
            live = {k: live[k] for k in dict.fromkeys(body.experience_key) if k in live}
        decisions = await decider.decide(
            workspace_id,
            subject,
            [plan.id for plan in live.values()],
            now=now,
            session=session,
            client_ip=request.client_ip,
            user_agent=request.headers.get("user-agent"),
            identities=identities,
            experiences=True,
        )
        out: dict[str, ExperienceOut] = {}
        for key, plan in live.items():
            decision = decisions.get(plan.id)
            if decision is not None and decision.policy != INELIGIBLE:
                out[key] = _render(plan, decision)
        return json_response(FetchResponse(out))

    return [
        Route(
            "POST",
            "/v1/experiences/fetch",
            fetch,
            name="experiences_fetch",
            summary="The variation of each experience for this user (MoEngage Personalize)",
            tags=("Experiences API (MoEngage)",),
            body=FetchRequest,
            response=FetchResponse,
            security="personalizeSecret",
            params=(Param("MOE-APPKEY", "header", "The workspace id.", True),),
            errors=(400, 401, 403, 415, 421, 422),
        )
    ]
