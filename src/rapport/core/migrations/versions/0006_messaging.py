"""Messaging: push providers, campaigns and their sends.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaign_sends",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.String(length=36), nullable=False),
        sa.Column("profile_id", sa.String(length=36), nullable=False),
        sa.Column("dedupe_key", sa.String(length=255), nullable=False),
        sa.Column("alternate_id", sa.String(length=36), nullable=True),
        sa.Column("slot", sa.String(length=16), nullable=True),
        sa.Column("holdout", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("scheduled_at", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", sa.Float(), nullable=True),
        sa.Column("device_id", sa.String(length=255), nullable=True),
        sa.Column("provider_message_id", sa.String(length=255), nullable=True),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("sent_at", sa.Float(), nullable=True),
        sa.Column("delivered_at", sa.Float(), nullable=True),
        sa.Column("opened_at", sa.Float(), nullable=True),
        sa.Column("clicked_at", sa.Float(), nullable=True),
        sa.Column("converted_at", sa.Float(), nullable=True),
        sa.Column("conversion_event_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_sends")),
    )
    with op.batch_alter_table("campaign_sends", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_campaign_sends_campaign_id_dedupe_key"),
            ["campaign_id", "dedupe_key"],
            unique=True,
        )
        batch_op.create_index(
            batch_op.f("ix_campaign_sends_campaign_id_status"),
            ["campaign_id", "status"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_campaign_sends_status_scheduled_at"),
            ["status", "scheduled_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_campaign_sends_workspace_id_profile_id_sent_at"),
            ["workspace_id", "profile_id", "sent_at"],
            unique=False,
        )

    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("provider_id", sa.String(length=36), nullable=True),
        sa.Column("audience_id", sa.String(length=36), nullable=True),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("starts_at", sa.Float(), nullable=True),
        sa.Column("plan_cursor", sa.String(length=36), nullable=True),
        sa.Column("planned_at", sa.Float(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaigns_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_campaigns_workspace_id_id"), ["workspace_id", "id"], unique=False
        )

    op.create_table(
        "providers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_providers")),
    )
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_providers_workspace_id_id"), ["workspace_id", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_providers_workspace_id_id"))

    op.drop_table("providers")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaigns_workspace_id_id"))
        batch_op.drop_index(batch_op.f("ix_campaigns_status"))

    op.drop_table("campaigns")
    with op.batch_alter_table("campaign_sends", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_sends_workspace_id_profile_id_sent_at"))
        batch_op.drop_index(batch_op.f("ix_campaign_sends_status_scheduled_at"))
        batch_op.drop_index(batch_op.f("ix_campaign_sends_campaign_id_status"))
        batch_op.drop_index(batch_op.f("ix_campaign_sends_campaign_id_dedupe_key"))

    op.drop_table("campaign_sends")
