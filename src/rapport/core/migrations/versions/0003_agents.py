"""Surfaces, variants, assignments and agent statistics.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_stats",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("dimension", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=255), nullable=False),
        sa.Column("trials", sa.Float(), nullable=False),
        sa.Column("successes", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "workspace_id", "scope", "dimension", "label", name=op.f("pk_agent_stats")
        ),
    )
    op.create_table(
        "assignments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("surface_id", sa.String(length=36), nullable=False),
        sa.Column("profile_id", sa.String(length=36), nullable=True),
        sa.Column("contact_id", sa.String(length=255), nullable=True),
        sa.Column("variant_id", sa.String(length=36), nullable=False),
        sa.Column("shown_variant_id", sa.String(length=36), nullable=True),
        sa.Column("alternates", sa.JSON(), nullable=False),
        sa.Column("policy", sa.String(length=16), nullable=False),
        sa.Column("policy_version", sa.String(length=32), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("exposed_at", sa.Float(), nullable=True),
        sa.Column("clicked_at", sa.Float(), nullable=True),
        sa.Column("converted_at", sa.Float(), nullable=True),
        sa.Column("reward", sa.Float(), nullable=True),
        sa.Column("conversion_event_id", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
    )
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assignments_workspace_id_contact_id_surface_id_created_at"),
            ["workspace_id", "contact_id", "surface_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_assignments_workspace_id_profile_id_surface_id_created_at"),
            ["workspace_id", "profile_id", "surface_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_assignments_workspace_id_surface_id_created_at"),
            ["workspace_id", "surface_id", "created_at"],
            unique=False,
        )

    op.create_table(
        "surfaces",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("default_variant_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surfaces")),
    )
    with op.batch_alter_table("surfaces", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_surfaces_workspace_id_id"), ["workspace_id", "id"], unique=False
        )

    op.create_table(
        "variants",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("surface_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["surface_id"],
            ["surfaces.id"],
            name=op.f("fk_variants_surface_id_surfaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_variants")),
    )
    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_variants_surface_id_id"), ["surface_id", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_variants_surface_id_id"))

    op.drop_table("variants")
    with op.batch_alter_table("surfaces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_surfaces_workspace_id_id"))

    op.drop_table("surfaces")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assignments_workspace_id_surface_id_created_at"))
        batch_op.drop_index(
            batch_op.f("ix_assignments_workspace_id_profile_id_surface_id_created_at")
        )
        batch_op.drop_index(
            batch_op.f("ix_assignments_workspace_id_contact_id_surface_id_created_at")
        )

    op.drop_table("assignments")
    op.drop_table("agent_stats")
