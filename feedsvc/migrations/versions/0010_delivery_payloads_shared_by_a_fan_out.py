"""delivery payloads shared by a fan-out

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 11:55:00

Each delivery kept its own copy of what it sends: 10,000 copies of one webhook event when an
article reaches 10,000 endpoints, rewritten with every update of the row. The payloads move
to their own table; existing deliveries get one payload each, with the delivery's id.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delivery_payloads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_payloads")),
    )
    op.execute(
        "INSERT INTO delivery_payloads (id, content_type, body, created_at)"
        " SELECT id, content_type, payload, created_at FROM deliveries"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "SELECT setval(pg_get_serial_sequence('delivery_payloads', 'id'),"
            " (SELECT COALESCE(MAX(id), 0) + 1 FROM delivery_payloads), false)"
        )
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.add_column(sa.Column("payload_id", sa.Integer(), nullable=True))
    op.execute("UPDATE deliveries SET payload_id = id")
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.alter_column("payload_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            op.f("fk_deliveries_payload_id_delivery_payloads"),
            "delivery_payloads",
            ["payload_id"],
            ["id"],
        )
        batch_op.drop_column("payload")
        batch_op.drop_column("content_type")


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.add_column(sa.Column("payload", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "content_type",
                sa.String(length=100),
                nullable=False,
                server_default="application/json",
            )
        )
    op.execute(
        "UPDATE deliveries SET payload = (SELECT body FROM delivery_payloads p"
        " WHERE p.id = deliveries.payload_id), content_type = (SELECT content_type"
        " FROM delivery_payloads p WHERE p.id = deliveries.payload_id)"
    )
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.alter_column("payload", existing_type=sa.Text(), nullable=False)
        batch_op.drop_constraint(
            op.f("fk_deliveries_payload_id_delivery_payloads"), type_="foreignkey"
        )
        batch_op.drop_column("payload_id")
    op.drop_table("delivery_payloads")
