"""Ingestion and profiles: inbox, events, profiles, identities, aliases, devices, suppressions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rapport.core.tables import SequenceId

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "aliases",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("anonymous_id", sa.String(length=255), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "anonymous_id", name=("pk_aliases")),
    )
    op.create_table(
        "devices",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=255), nullable=False),
        sa.Column("profile_id", sa.String(length=36), nullable=False),
        sa.Column("token", sa.Text(), nullable=True),
        sa.Column("os", sa.String(length=64), nullable=True),
        sa.Column("os_version", sa.String(length=64), nullable=True),
        sa.Column("model", sa.String(length=128), nullable=True),
        sa.Column("app_build", sa.String(length=64), nullable=True),
        sa.Column("app_version", sa.String(length=64), nullable=True),
        sa.Column("token_retired", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "device_id", name=("pk_devices")),
    )
    op.create_index(("ix_devices_profile_id"), "devices", ["profile_id"], unique=False)
    op.create_table(
        "events",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("profile_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", sa.Float(), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "event_id", name=("pk_events")),
    )
    op.create_index(
        ("ix_events_profile_id_occurred_at"), "events", ["profile_id", "occurred_at"], unique=False
    )
    op.create_index(
        ("ix_events_workspace_id_occurred_at"),
        "events",
        ["workspace_id", "occurred_at"],
        unique=False,
    )
    op.create_table(
        "identities",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("profile_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "kind", "value", name=("pk_identities")),
    )
    op.create_index(("ix_identities_profile_id"), "identities", ["profile_id"], unique=False)
    op.create_table(
        "inbox",
        sa.Column("seq", SequenceId, autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=("pk_inbox")),
    )
    op.create_index(
        ("ix_inbox_workspace_id_message_id"), "inbox", ["workspace_id", "message_id"], unique=True
    )
    op.create_table(
        "profiles",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("property_times", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.Float(), nullable=True),
        sa.Column("last_seen", sa.Float(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("locale", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=("pk_profiles")),
    )
    op.create_index(
        ("ix_profiles_workspace_id_id"), "profiles", ["workspace_id", "id"], unique=False
    )
    op.create_table(
        "suppressions",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "kind", "value_hash", name=("pk_suppressions")),
    )


def downgrade() -> None:
    op.drop_table("suppressions")
    op.drop_index(("ix_profiles_workspace_id_id"), table_name="profiles")
    op.drop_table("profiles")
    op.drop_index(("ix_inbox_workspace_id_message_id"), table_name="inbox")
    op.drop_table("inbox")
    op.drop_index(("ix_identities_profile_id"), table_name="identities")
    op.drop_table("identities")
    op.drop_index(("ix_events_workspace_id_occurred_at"), table_name="events")
    op.drop_index(("ix_events_profile_id_occurred_at"), table_name="events")
    op.drop_table("events")
    op.drop_index(("ix_devices_profile_id"), table_name="devices")
    op.drop_table("devices")
    op.drop_table("aliases")
