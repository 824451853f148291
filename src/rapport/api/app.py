"""The one place that wires settings, storage, services and routes into an ASGI app."""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rapport import __version__
from rapport.api import oauth, ops
from rapport.api.asgi import App
from rapport.api.http import Route
from rapport.api.management import SUPPORTED_VERSIONS, ManagementAuth, ManagementRoutes
from rapport.api.metrics import Metrics
from rapport.api.openapi import build_document
from rapport.audiences import routes as audience_routes
from rapport.audiences.preview import Sizer
from rapport.audiences.session import GeoDatabase
from rapport.config import Settings
from rapport.console import routes as console_routes
from rapport.console.session import SessionCodec, bridge_token
from rapport.core import migrate
from rapport.core.db import Database
from rapport.decide import routes as decide_routes
from rapport.decide.catalog import Catalog
from rapport.decide.engine import Decider, write_decisions
from rapport.decide.feedback import Feedback
from rapport.decide.grouping import GroupFitter
from rapport.decide.recent import RecentDecisions
from rapport.experiences import fetch as experience_fetch
from rapport.experiences import routes as experience_routes
from rapport.ingest import routes as ingest_routes
from rapport.ingest import storage as inbox_storage
from rapport.ingest.loop import ProcessingLoop
from rapport.ingest.writer import GroupCommitter
from rapport.messaging import routes as campaign_routes
from rapport.messaging.dryrun import DryRun
from rapport.messaging.feedback import MessagingFeedback
from rapport.messaging.orchestrator import Orchestrator
from rapport.messaging.providers import routes as provider_routes
from rapport.messaging.providers.service import ProviderRuntime
from rapport.messaging.sender import Sender
from rapport.profiles import routes as profile_routes
from rapport.profiles.processor import Processor
from rapport.profiles.retention import apply_retention
from rapport.stats import routes as stats_routes
from rapport.stats.errorlog import IngestionErrorLog
from rapport.surfaces import content as content_routes
from rapport.surfaces import routes as surface_routes
from rapport.workspaces import routes as workspace_routes
from rapport.workspaces import service as workspace_service
from rapport.workspaces.auth import KeyAuthenticator

log = logging.getLogger("rapport")


class SchemaOutOfDate(RuntimeError):
    """The database is behind the code: run ``rapport migrate``."""


@dataclass
class Services:
    """What the routes share: one of each per process."""

    settings: Settings
    database: Database
    keys: KeyAuthenticator
    metrics: Metrics
    token_secret: str
    committer: GroupCommitter
    processor: Processor
    processing: ProcessingLoop | None
    catalog: Catalog
    decider: Decider
    feedback: Feedback
    messaging: MessagingFeedback
    orchestrator: Orchestrator | None
    geo: GeoDatabase
    ingestion_errors: IngestionErrorLog
    # Encryption key and TLS trust for push providers; ``providers.load(conn,
    # workspace_id, provider_id)`` builds one ready to send.
    providers: ProviderRuntime


def build_services(settings: Settings, database: Database | None = None) -> Services:
    """Open the database (migrating it when allowed) and build the shared services."""
    database = database or Database(settings.database_url)
    if settings.auto_migrate:
        migrate.upgrade(database)
    elif migrate.current_revision(database) != migrate.head_revision():
        raise SchemaOutOfDate("The database schema is out of date: run `rapport migrate`")
    with database.begin() as conn:
        secret = workspace_service.token_secret(conn, settings.secret_key)
    metrics = Metrics()
    catalog = Catalog()
    recent = RecentDecisions(settings.decision_cache_seconds)
    feedback = Feedback(catalog, recent)
    messaging = MessagingFeedback()
    processor = build_processor(database, metrics, feedback, messaging)
    processing = (
        build_loop(settings, database, processor, GroupFitter(database, feedback, catalog))
        if settings.process_inline
        else None
    )
    committer = GroupCommitter(
        database,
        inbox_storage.write_inbox,
        on_commit=processing.poke if processing is not None else None,
    )
    # No poke on commit: the evidence of many decisions is applied in one batch at the
    # next poll, rather than a processing commit per decision commit.
    decisions = GroupCommitter(database, write_decisions)
    geo = open_geo(settings)
    providers = ProviderRuntime.from_settings(settings)
    return Services(
        settings=settings,
        database=database,
        keys=KeyAuthenticator(database, settings.region, settings.key_cache_seconds),
        metrics=metrics,
        token_secret=secret,
        committer=committer,
        processor=processor,
        processing=processing,
        catalog=catalog,
        decider=Decider(database, decisions, catalog, geo=geo, recent=recent),
        feedback=feedback,
        messaging=messaging,
        orchestrator=(
            build_orchestrator(settings, database, providers) if settings.process_inline else None
        ),
        geo=geo,
        ingestion_errors=IngestionErrorLog(),
        providers=providers,
    )


def open_geo(settings: Settings) -> GeoDatabase:
    """The geo database, saying at start-up whether geo rules can match."""
    path = Path(settings.geoip_database) if settings.geoip_database else None
    geo = GeoDatabase(path)
    if geo.available:
        log.info("geo database loaded", extra={"path": str(path)})
    else:
        log.warning("no geo database (RAPPORT_GEOIP_DATABASE): audience rules on geo.* never match")
    return geo


def build_loop(
    settings: Settings, database: Database, processor: Processor, fitter: GroupFitter
) -> ProcessingLoop:
    """The processing loop with its housekeeping: retention between batches, and the
    taste groups' fit in a thread of its own."""
    return ProcessingLoop(
        processor,
        periodic=[(settings.retention_interval_seconds, lambda: apply_retention(database))],
        companions=[fitter],
    )


def build_orchestrator(
    settings: Settings, database: Database, providers: ProviderRuntime | None = None
) -> Orchestrator:
    """The campaign orchestrator (in `serve` when it processes inline, and in `worker`)."""
    providers = providers or ProviderRuntime.from_settings(settings)
    sender = Sender(database, providers.load, DryRun, lease_seconds=settings.send_lease_seconds)
    return Orchestrator(database, sender)


def build_processor(
    database: Database,
    metrics: Metrics | None = None,
    feedback: Feedback | None = None,
    messaging: MessagingFeedback | None = None,
) -> Processor:
    """The inbox processor with every domain's hooks (serve and worker share it)."""
    feedback = feedback or Feedback(Catalog())
    messaging = messaging or MessagingFeedback()
    return Processor(
        database,
        merge_hooks=[feedback.on_merge, messaging.on_merge],
        event_hooks=[feedback.on_events, messaging.on_events],
        learn_hooks=[feedback.on_learn],
        after_commit=[feedback.after_commit],
        observe_lag=metrics.processing_lag.observe if metrics is not None else None,
    )


def build_routes(services: Services) -> list[Route]:
    """Every route of the server."""
    codec = SessionCodec(services.token_secret)
    management = ManagementRoutes(
        ManagementAuth(
            services.database,
            services.keys,
            services.token_secret,
            # The console's session cookie stands in for the bearer token.
            fallback_token=lambda request: bridge_token(codec, request),
        )
    )

    def campaigns_changed() -> None:
        services.messaging.forget()
        if services.orchestrator is not None:
            services.orchestrator.poke()

    routes: list[Route] = [
        oauth.build_route(
            services.keys, services.token_secret, services.settings.access_token_ttl_seconds
        ),
        *workspace_routes.build_routes(management, services.database, services.keys),
        *workspace_routes.build_category_routes(management, services.database),
        *profile_routes.build_routes(
            management,
            services.database,
            erase_hooks=[services.feedback.on_erase, services.messaging.on_erase],
            after_erase=[services.feedback.after_erase],
        ),
        *surface_routes.build_routes(management, services.database, services.catalog.forget),
        *audience_routes.build_routes(
            management, services.database, Sizer(services.geo), services.catalog.forget
        ),
        *decide_routes.build_routes(management, services.database, services.catalog),
        *experience_routes.build_routes(
            management, services.database, services.catalog, services.catalog.forget
        ),
        *campaign_routes.build_routes(management, services.database, campaigns_changed),
        *stats_routes.build_routes(management, services.database, services.ingestion_errors),
        *provider_routes.build_routes(management, services.database, services.providers),
        *ingest_routes.build_routes(
            services.keys, services.committer, services.database, services.ingestion_errors
        ),
        *content_routes.build_routes(services.keys, services.decider),
        *experience_fetch.build_routes(
            services.keys, services.database, services.catalog, services.decider
        ),
    ]

    def openapi() -> dict[str, Any]:
        return build_document(routes + operational, title="rapport", version=__version__)

    operational = ops.build_routes(services.database, services.keys, services.metrics, openapi)
    console = console_routes.build_routes(
        services.keys,
        services.token_secret,
        services.settings.access_token_ttl_seconds,
        SUPPORTED_VERSIONS[-1],
    )
    return routes + operational + console


def create_app(settings: Settings | None = None, database: Database | None = None) -> App:
    """The ASGI application for ``settings`` (read from the environment when omitted)."""
    settings = settings or Settings.from_env()
    services = build_services(settings, database)

    async def startup() -> None:
        services.committer.start()
        services.decider.committer.start()
        if services.processing is not None:
            services.processing.start()
        if services.orchestrator is not None:
            services.orchestrator.start()
        settle_heap()

    async def shutdown() -> None:
        services.committer.stop()
        services.decider.committer.stop()
        if services.processing is not None:
            services.processing.stop()
        if services.orchestrator is not None:
            services.orchestrator.stop()
        services.database.dispose()

    app = App(
        build_routes(services),
        max_body_bytes=settings.max_body_bytes,
        metrics=services.metrics,
        on_startup=[startup],
        on_shutdown=[shutdown],
    )
    app.state = services
    log.info(
        "rapport ready",
        extra={"region": settings.region, "database": services.database.dialect},
    )
    return app


def settle_heap() -> None:
    """Move what start-up built (modules, routes, parsers, caches: it lives as long as
    the process) out of the garbage collector's view. A full collection otherwise scans
    all of it and stops every thread for ~30 ms, the largest stall a hot-path request
    meets; afterwards it scans only what was allocated since."""
    gc.collect()
    gc.freeze()


def app_from_env() -> App:
    """The factory ``rapport serve`` hands to uvicorn: each worker process configures
    its own logging and builds its own services."""
    from rapport.logs import configure

    settings = Settings.from_env()
    configure(settings.log_level, settings.log_format)
    return create_app(settings)
