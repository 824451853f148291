"""The schema, as SQLAlchemy Core tables. Migrations under ``migrations/`` create it.

Every tenant-owned row carries ``workspace_id``; a test checks that the migrations
produce exactly this metadata.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from rapport.core.clock import as_utc

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, always returns aware UTC datetimes on both databases."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


workspaces = Table(
    "workspaces",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("region", String(64), nullable=False),
    Column("settings", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column(
        "workspace_id",
        String(64),
        ForeignKey("workspaces.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("kind", String(16), nullable=False),
    Column("name", String(200), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("rotated_at", UTCDateTime, nullable=True),
    Column("last_used_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    Index(None, "workspace_id", "id"),
)

server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)


# --- ingestion and profiles -------------------------------------------------------
# Event times are stored as Unix epoch seconds (float): every dialect sends numbers or
# ISO strings that we normalise once, and comparisons and windows stay cheap.

# SQLite only auto-increments an INTEGER PRIMARY KEY (its rowid alias).
SequenceId = BigInteger().with_variant(Integer(), "sqlite")

inbox = Table(
    "inbox",
    metadata,
    Column("seq", SequenceId, primary_key=True, autoincrement=True),
    Column("workspace_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    # The sender's idempotency key (event_id / messageId); NULL for messages without one.
    Column("message_id", String(255), nullable=True),
    Column("payload", LargeBinary, nullable=False),
    Column("received_at", Float, nullable=False),
    Index(None, "workspace_id", "message_id", unique=True),
)

profiles = Table(
    "profiles",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("workspace_id", String(64), nullable=False),
    Column("properties", JSON, nullable=False),
    # Per property, the event time of the write that set it: the last write by event
    # time wins, whatever order messages are processed in.
    Column("property_times", JSON, nullable=False),
    Column("counts", JSON, nullable=False),
    Column("event_count", Integer, nullable=False, default=0),
    Column("first_seen", Float, nullable=True),
    Column("last_seen", Float, nullable=True),
    Column("timezone", String(64), nullable=True),
    Column("locale", String(32), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index(None, "workspace_id", "id"),
)

identities = Table(
    "identities",
    metadata,
    Column("workspace_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("value", String(255), nullable=False),
    Column("profile_id", String(36), nullable=False),
    Column("created_at", Float, nullable=False),
    PrimaryKeyConstraint("workspace_id", "kind", "value"),
    Index(None, "profile_id"),
)

# An anonymous id may be aliased once: this claim is written when the alias request is
# accepted, so a conflicting second alias can be refused synchronously with 409.
aliases = Table(
    "aliases",
    metadata,
    Column("workspace_id", String(64), nullable=False),
    Column("anonymous_id", String(255), nullable=False),
    Column("external_id", String(255), nullable=False),
    Column("created_at", Float, nullable=False),
    PrimaryKeyConstraint("workspace_id", "anonymous_id"),
)

events = Table(
    "events",
    metadata,
    Column("workspace_id", String(64), nullable=False),
    Column("event_id", String(255), nullable=False),
    Column("profile_id", String(36), nullable=False),
    Column("name", String(255), nullable=False),
    Column("category", String(16), nullable=False),
    Column("occurred_at", Float, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("timezone", String(64), nullable=True),
    Column("properties", JSON, nullable=False),
    Column("context", JSON, nullable=False),
    Column("source", String(16), nullable=False),
    PrimaryKeyConstraint("workspace_id", "event_id"),
    Index(None, "profile_id", "occurred_at"),
    Index(None, "workspace_id", "occurred_at"),
)

devices = Table(
    "devices",
    metadata,
    Column("workspace_id", String(64), nullable=False),
    Column("device_id", String(255), nullable=False),
    Column("profile_id", String(36), nullable=False),
    Column("token", Text, nullable=True),
    Column("os", String(64), nullable=True),
    Column("os_version", String(64), nullable=True),
    Column("model", String(128), nullable=True),
    Column("app_build", String(64), nullable=True),
    Column("app_version", String(64), nullable=True),
    Column("token_retired", Boolean, nullable=False, default=False),
    Column("updated_at", Float, nullable=False),
    PrimaryKeyConstraint("workspace_id", "device_id"),
    Index(None, "profile_id"),
)

# Identities of erased people (hashed): later messages for them are dropped.
suppressions = Table(
    "suppressions",
    metadata,
    Column("workspace_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("value_hash", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    PrimaryKeyConstraint("workspace_id", "kind", "value_hash"),
)


# --- surfaces, assignments and agents ----------------------------------------------

surfaces = Table(
    "surfaces",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("workspace_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("status", String(16), nullable=False),
    # Control settings and reward rules (rapport.surfaces.schemas.SurfaceConfig).
    Column("config", JSON, nullable=False),
    Column("default_variant_id", String(36), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index(None, "workspace_id", "id"),
)

variants = Table(
    "variants",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("workspace_id", String(64), nullable=False),
    Column(
        "surface_id",
        String(36),
        ForeignKey("surfaces.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(200), nullable=False),
    Column("payload", JSON, nullable=False),
    # {dimension: label}: what the agents learn about.
    Column("labels", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Index(None, "surface_id", "id"),
)

# One decision: kept with its outcome, so reports and attribution read one table.
assignments = Table(
    "assignments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("workspace_id", String(64), nullable=False),
    Column("surface_id", String(36), nullable=False),
    # The profile when the user was known at decision time (moved on merges), and the
    # identifier the app asked with (stickiness for users not yet processed).
    Column("profile_id", String(36), nullable=True),
    Column("contact_id", String(255), nullable=True),
    Column("variant_id", String(36), nullable=False),
    # The variant the app reported showing when it showed an alternate.
    Column("shown_variant_id", String(36), nullable=True),
    Column("alternates", JSON, nullable=False),
    Column("policy", String(16), nullable=False),
    Column("policy_version", String(32), nullable=False),
    Column("context", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("exposed_at", Float, nullable=True),
    Column("clicked_at", Float, nullable=True),
    Column("converted_at", Float, nullable=True),
    Column("reward", Float, nullable=True),
    Column("conversion_event_id", String(255), nullable=True),
    Index(None, "workspace_id", "profile_id", "surface_id", "created_at"),
    Index(None, "workspace_id", "contact_id", "surface_id", "created_at"),
    Index(None, "workspace_id", "surface_id", "created_at"),
)

# Beta-Bernoulli evidence per (scope, dimension, label): scope is a profile id (the
# user's agent), "*" (the workspace population) or "ctx:<name>:<value>" (the population
# in one context, e.g. ctx:daypart:evening).
agent_stats = Table(
    "agent_stats",
    metadata,
    Column("workspace_id", String(64), nullable=False),
    Column("scope", String(64), nullable=False),
    Column("dimension", String(64), nullable=False),
    Column("label", String(255), nullable=False),
    Column("trials", Float, nullable=False),
    Column("successes", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    PrimaryKeyConstraint("workspace_id", "scope", "dimension", "label"),
)


# --- audiences ------------------------------------------------------------------

audiences = Table(
    "audiences",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("workspace_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    # The rule tree (rapport.audiences.rules), validated on save; data, never code.
    Column("rule", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index(None, "workspace_id", "id"),
)


# --- experiences ----------------------------------------------------------------

# Keyed server-side personalization (MoEngage Personalize style). Variations live in the
# row: an experience is read whole, and its few variations change together.
experiences = Table(
    "experiences",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("workspace_id", String(64), nullable=False),
    Column("key", String(100), nullable=False),
    Column("name", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("starts_at", Float, nullable=True),
    Column("ends_at", Float, nullable=True),
    Column("audience_id", String(36), nullable=True),
    # allocation, holdout, stickiness, reward (rapport.experiences.schemas.ExperienceConfig)
    Column("config", JSON, nullable=False),
    Column("variations", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index(None, "workspace_id", "key", unique=True),
)

# -- messaging: providers, campaigns and their sends ----------------------------------

providers = Table(
    "providers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("workspace_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),  # fcm | apns | webhook | log
    # What may be shown again (project id, bundle id, url, ...).
    Column("settings", JSON, nullable=False),
    # The credentials, encrypted with the server's key (rapport.messaging.crypto).
    Column("secret", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index(None, "workspace_id", "id"),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("workspace_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),  # broadcast | triggered
    Column("status", String(16), nullable=False),
    Column("provider_id", String(36), nullable=True),
    Column("audience_id", String(36), nullable=True),
    # message alternates, window, trigger, caps, quiet hours, rate, holdout, dry run
    # (rapport.messaging.schemas.CampaignConfig)
    Column("config", JSON, nullable=False),
    Column("starts_at", Float, nullable=True),
    # Broadcast planning walks the audience in profile-id order; the last id planned is
    # saved with each planned page so a restart resumes exactly where it stopped.
    Column("plan_cursor", String(36), nullable=True),
    Column("planned_at", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index(None, "workspace_id", "id"),
    Index(None, "status"),
)

campaign_sends = Table(
    "campaign_sends",
    metadata,
    # The send id: the idempotency key given to the provider and echoed by apps.
    Column("id", String(36), primary_key=True),
    Column("workspace_id", String(64), nullable=False),
    Column("campaign_id", String(36), nullable=False),
    Column("profile_id", String(36), nullable=False),
    # One send per (campaign, key): the profile for broadcasts, the trigger event for
    # triggered campaigns.
    Column("dedupe_key", String(255), nullable=False),
    Column("alternate_id", String(36), nullable=True),
    Column("slot", String(16), nullable=True),
    Column("holdout", Boolean, nullable=False),
    # planned | sending | sent | failed | skipped | held_out | exited
    Column("status", String(16), nullable=False),
    Column("reason", String(64), nullable=True),
    Column("scheduled_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("lease_until", Float, nullable=True),
    Column("device_id", String(255), nullable=True),
    Column("provider_message_id", String(255), nullable=True),
    Column("context", JSON, nullable=False),
    Column("sent_at", Float, nullable=True),
    Column("delivered_at", Float, nullable=True),
    Column("opened_at", Float, nullable=True),
    Column("clicked_at", Float, nullable=True),
    Column("converted_at", Float, nullable=True),
    Column("conversion_event_id", String(255), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index(None, "campaign_id", "dedupe_key", unique=True),
    Index(None, "status", "scheduled_at"),
    Index(None, "campaign_id", "status"),
    Index(None, "workspace_id", "profile_id", "sent_at"),
)
