"""crm: contacts, companies, custom fields, pipelines and stages, deals, activities, leads,
consent, imports

Revision ID: 3f9a0c7d2e11
Revises: 0b7d4e91c2a5
Create Date: 2026-11-26 02:50:01.106615
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import nexus.core.types

revision: str = "3f9a0c7d2e11"
down_revision: str | None = "0b7d4e91c2a5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "crm_activity_types",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_crm_activity_types_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_crm_activity_types")),
        sa.UniqueConstraint("tenant_id", "key", name=op.f("uq_crm_activity_types_tenant_id_key")),
    )
    op.create_table(
        "crm_companies",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("search_name", sa.String(length=200), nullable=False),
        sa.Column("domain", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("email_key", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("website", sa.String(length=300), nullable=True),
        sa.Column("industry", sa.String(length=100), nullable=True),
        sa.Column(
            "address",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "custom",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("sensitive_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("merged_into_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", nexus.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", nexus.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", nexus.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_crm_companies_owner_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_crm_companies_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_crm_companies")),
    )
    with op.batch_alter_table("crm_companies", schema=None) as batch_op:
        batch_op.create_index(
            "ix_crm_companies_created", ["tenant_id", "created_at", "id"], unique=False
        )
        batch_op.create_index("ix_crm_companies_email", ["tenant_id", "email_key"], unique=False)
        batch_op.create_index("ix_crm_companies_phone", ["tenant_id", "phone"], unique=False)
        batch_op.create_index("ix_crm_companies_search", ["tenant_id", "search_name"], unique=False)

    op.create_table(
        "crm_field_definitions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=50), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "choices",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", nexus.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_crm_field_definitions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_crm_field_definitions")),
        sa.UniqueConstraint(
            "tenant_id", "entity", "key", name=op.f("uq_crm_field_definitions_tenant_id_entity_key")
        ),
    )
    op.create_table(
        "crm_imports",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("only_valid", sa.Boolean(), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("invalid_rows", sa.Integer(), nullable=False),
        sa.Column("written_rows", sa.Integer(), nullable=False),
        sa.Column(
            "report",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", nexus.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", nexus.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_crm_imports_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_crm_imports")),
    )
    op.create_table(
        "crm_leads",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("search_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("email_key", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("company_name", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column(
            "custom",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("converted_contact_id", sa.Uuid(), nullable=True),
        sa.Column("converted_company_id", sa.Uuid(), nullable=True),
        sa.Column("converted_deal_id", sa.Uuid(), nullable=True),
        sa.Column("converted_at", nexus.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", nexus.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", nexus.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_crm_leads_owner_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_crm_leads_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_crm_leads")),
    )
    with op.batch_alter_table("crm_leads", schema=None) as batch_op:
        batch_op.create_index(
            "ix_crm_leads_created", ["tenant_id", "created_at", "id"], unique=False
        )
        batch_op.create_index("ix_crm_leads_search", ["tenant_id", "search_name"], unique=False)

    op.create_table(
        "crm_pipelines",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", nexus.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_crm_pipelines_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_crm_pipelines")),
        sa.UniqueConstraint("tenant_id", "key", name=op.f("uq_crm_pipelines_tenant_id_key")),
    )
    op.create_table(
        "crm_contacts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("search_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("email_key", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("job_title", sa.String(length=200), nullable=True),
        sa.Column("company_id", sa.Uuid(), nullable=True),
        sa.Column(
            "address",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "custom",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("sensitive_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("merged_into_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", nexus.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", nexus.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", nexus.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("erased_at", nexus.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_crm_contacts_owner_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "company_id"],
            ["crm_companies.tenant_id", "crm_companies.id"],
            name=op.f("fk_crm_contacts_tenant_id_company_id_crm_companies"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_crm_contacts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_crm_contacts")),
    )
    with op.batch_alter_table("crm_contacts", schema=None) as batch_op:
        batch_op.create_index("ix_crm_contacts_company", ["tenant_id", "company_id"], unique=False)
        batch_op.create_index(
            "ix_crm_contacts_created", ["tenant_id", "created_at", "id"], unique=False
        )
        batch_op.create_index("ix_crm_contacts_email", ["tenant_id", "email_key"], unique=False)
        batch_op.create_index("ix_crm_contacts_phone", ["tenant_id", "phone"], unique=False)
        batch_op.create_index("ix_crm_contacts_search", ["tenant_id", "search_name"], unique=False)

    op.create_table(
        "crm_stages",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pipeline_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "pipeline_id"],
            ["crm_pipelines.tenant_id", "crm_pipelines.id"],
            name=op.f("fk_crm_stages_tenant_id_pipeline_id_crm_pipelines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_crm_stages_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_crm_stages")),
        sa.UniqueConstraint(
            "tenant_id", "pipeline_id", "key", name=op.f("uq_crm_stages_tenant_id_pipeline_id_key")
        ),
    )
    op.create_table(
        "crm_consents",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("granted_at", nexus.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", nexus.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("recorded_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "contact_id"],
            ["crm_contacts.tenant_id", "crm_contacts.id"],
            name=op.f("fk_crm_consents_tenant_id_contact_id_crm_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_crm_consents_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_crm_consents")),
    )
    with op.batch_alter_table("crm_consents", schema=None) as batch_op:
        batch_op.create_index("ix_crm_consents_contact", ["tenant_id", "contact_id"], unique=False)

    op.create_table(
        "crm_deals",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("pipeline_id", sa.Uuid(), nullable=False),
        sa.Column("stage_id", sa.Uuid(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("expected_close", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("lost_reason", sa.String(length=500), nullable=True),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("company_id", sa.Uuid(), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column(
            "custom",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("stage_changed_at", nexus.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", nexus.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", nexus.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", nexus.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", nexus.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_crm_deals_owner_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "company_id"],
            ["crm_companies.tenant_id", "crm_companies.id"],
            name=op.f("fk_crm_deals_tenant_id_company_id_crm_companies"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "contact_id"],
            ["crm_contacts.tenant_id", "crm_contacts.id"],
            name=op.f("fk_crm_deals_tenant_id_contact_id_crm_contacts"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "pipeline_id"],
            ["crm_pipelines.tenant_id", "crm_pipelines.id"],
            name=op.f("fk_crm_deals_tenant_id_pipeline_id_crm_pipelines"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "stage_id"],
            ["crm_stages.tenant_id", "crm_stages.id"],
            name=op.f("fk_crm_deals_tenant_id_stage_id_crm_stages"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_crm_deals_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_crm_deals")),
    )
    with op.batch_alter_table("crm_deals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_crm_deals_created", ["tenant_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_crm_deals_stage", ["tenant_id", "pipeline_id", "stage_id"], unique=False
        )

    op.create_table(
        "crm_activities",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("due_at", nexus.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_at", nexus.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("assignee_id", sa.Uuid(), nullable=True),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("company_id", sa.Uuid(), nullable=True),
        sa.Column("deal_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", nexus.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", nexus.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["users.id"],
            name=op.f("fk_crm_activities_assignee_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "company_id"],
            ["crm_companies.tenant_id", "crm_companies.id"],
            name=op.f("fk_crm_activities_tenant_id_company_id_crm_companies"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "contact_id"],
            ["crm_contacts.tenant_id", "crm_contacts.id"],
            name=op.f("fk_crm_activities_tenant_id_contact_id_crm_contacts"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "deal_id"],
            ["crm_deals.tenant_id", "crm_deals.id"],
            name=op.f("fk_crm_activities_tenant_id_deal_id_crm_deals"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_crm_activities_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_crm_activities")),
    )
    with op.batch_alter_table("crm_activities", schema=None) as batch_op:
        batch_op.create_index(
            "ix_crm_activities_assignee", ["tenant_id", "assignee_id", "done_at"], unique=False
        )
        batch_op.create_index(
            "ix_crm_activities_contact", ["tenant_id", "contact_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("crm_activities", schema=None) as batch_op:
        batch_op.drop_index("ix_crm_activities_contact")
        batch_op.drop_index("ix_crm_activities_assignee")

    op.drop_table("crm_activities")
    with op.batch_alter_table("crm_deals", schema=None) as batch_op:
        batch_op.drop_index("ix_crm_deals_stage")
        batch_op.drop_index("ix_crm_deals_created")

    op.drop_table("crm_deals")
    with op.batch_alter_table("crm_consents", schema=None) as batch_op:
        batch_op.drop_index("ix_crm_consents_contact")

    op.drop_table("crm_consents")
    op.drop_table("crm_stages")
    with op.batch_alter_table("crm_contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_crm_contacts_search")
        batch_op.drop_index("ix_crm_contacts_phone")
        batch_op.drop_index("ix_crm_contacts_email")
        batch_op.drop_index("ix_crm_contacts_created")
        batch_op.drop_index("ix_crm_contacts_company")

    op.drop_table("crm_contacts")
    op.drop_table("crm_pipelines")
    with op.batch_alter_table("crm_leads", schema=None) as batch_op:
        batch_op.drop_index("ix_crm_leads_search")
        batch_op.drop_index("ix_crm_leads_created")

    op.drop_table("crm_leads")
    op.drop_table("crm_imports")
    op.drop_table("crm_field_definitions")
    with op.batch_alter_table("crm_companies", schema=None) as batch_op:
        batch_op.drop_index("ix_crm_companies_search")
        batch_op.drop_index("ix_crm_companies_phone")
        batch_op.drop_index("ix_crm_companies_email")
        batch_op.drop_index("ix_crm_companies_created")

    op.drop_table("crm_companies")
    op.drop_table("crm_activity_types")
