"""The one place that wires settings, storage, services and routes into an ASGI app."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rapport import __version__
from rapport.api import oauth, ops
from rapport.api.asgi import App
from rapport.api.http import Route
from rapport.api.management import ManagementAuth, ManagementRoutes
from rapport.api.metrics import Metrics
from rapport.api.openapi import build_document
from rapport.audiences import routes as audience_routes
from rapport.audiences.preview import Sizer
from rapport.audiences.session import GeoDatabase
from rapport.config import Settings
from rapport.core import migrate
from rapport.core.db import Database
from rapport.decide import routes as decide_routes
from rapport.decide.catalog import Catalog
from rapport.decide.engine import Decider, write_decisions
from rapport.decide.feedback import Feedback
from rapport.decide.grouping import FIT_INTERVAL_SECONDS, GroupFitter
from rapport.experiences import fetch as experience_fetch
from rapport.experiences import routes as experience_routes
from rapport.ingest import routes as ingest_routes
from rapport.ingest import storage as inbox_storage
from rapport.ingest.loop import ProcessingLoop
from rapport.ingest.writer import GroupCommitter
from rapport.profiles import routes as profile_routes
from rapport.profiles.processor import Processor
from rapport.profiles.retention import apply_retention
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
    geo: GeoDatabase


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
    feedback = Feedback(catalog)
    processor = build_processor(database, metrics, feedback)
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
        decider=Decider(database, decisions, catalog, geo=geo),
        feedback=feedback,
        geo=geo,
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
    """The processing loop with its housekeeping jobs: retention and the taste groups."""
    return ProcessingLoop(
        processor,
        periodic=[
            (settings.retention_interval_seconds, lambda: apply_retention(database)),
            (FIT_INTERVAL_SECONDS, fitter.run),
        ],
    )


def build_processor(
    database: Database, metrics: Metrics | None = None, feedback: Feedback | None = None
) -> Processor:
    """The inbox processor with every domain's hooks (serve and worker share it)."""
    feedback = feedback or Feedback(Catalog())
    return Processor(
        database,
        merge_hooks=[feedback.on_merge],
        event_hooks=[feedback.on_events],
        learn_hooks=[feedback.on_learn],
        after_commit=[feedback.after_commit],
        observe_lag=metrics.processing_lag.observe if metrics is not None else None,
    )


def build_routes(services: Services) -> list[Route]:
    """Every route of the server."""
    management = ManagementRoutes(
        ManagementAuth(services.database, services.keys, services.token_secret)
    )
    routes: list[Route] = [
        oauth.build_route(
            services.keys, services.token_secret, services.settings.access_token_ttl_seconds
        ),
        *workspace_routes.build_routes(management, services.database, services.keys),
        *workspace_routes.build_category_routes(management, services.database),
        *profile_routes.build_routes(
            management, services.database, erase_hooks=[services.feedback.on_erase]
        ),
        *surface_routes.build_routes(management, services.database, services.catalog.forget),
        *audience_routes.build_routes(
            management, services.database, Sizer(services.geo), services.catalog.forget
        ),
        *decide_routes.build_routes(management, services.database, services.catalog),
        *experience_routes.build_routes(
            management, services.database, services.catalog, services.catalog.forget
        ),
        *ingest_routes.build_routes(services.keys, services.committer, services.database),
        *content_routes.build_routes(services.keys, services.decider),
        *experience_fetch.build_routes(
            services.keys, services.database, services.catalog, services.decider
        ),
    ]

    def openapi() -> dict[str, Any]:
        return build_document(routes + operational, title="rapport", version=__version__)

    operational = ops.build_routes(services.database, services.keys, services.metrics, openapi)
    return routes + operational


def create_app(settings: Settings | None = None, database: Database | None = None) -> App:
    """The ASGI application for ``settings`` (read from the environment when omitted)."""
    settings = settings or Settings.from_env()
    services = build_services(settings, database)

    async def startup() -> None:
        services.committer.start()
        services.decider.committer.start()
        if services.processing is not None:
            services.processing.start()

    async def shutdown() -> None:
        services.committer.stop()
        services.decider.committer.stop()
        if services.processing is not None:
            services.processing.stop()
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


def app_from_env() -> App:
    """The factory ``rapport serve`` hands to uvicorn: each worker process configures
    its own logging and builds its own services."""
    from rapport.logs import configure

    settings = Settings.from_env()
    configure(settings.log_level, settings.log_format)
    return create_app(settings)
