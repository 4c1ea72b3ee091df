"""one subscriber per delivery

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-27 23:40:00

A delivery goes to exactly one subscriber: a webhook endpoint, a subscription at our WebSub
hub, or an e-mail subscriber (an address confirmation and a daily digest too). The outbox
has always made them so (``notify.rows.delivery_row`` sets one); now the database says it,
as a CHECK constraint on both databases. The subscribers' foreign keys cascade on delete, so
a row never loses its subscriber. A store holding a row that breaks it stops the upgrade.

On SQLite the table is rebuilt (``batch_alter_table``): AUTOINCREMENT is kept, and so is the
largest id ever given (``sqlite_sequence``), which copying the rows alone would lower to the
largest id left when the newest deliveries were removed.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

# A batch that rebuilds a table on SQLite must keep its AUTOINCREMENT (migration 0013).
KEEP_AUTOINCREMENT = {"sqlite_autoincrement": True}

ONE_SUBSCRIBER = (
    "(CASE WHEN endpoint_id IS NULL THEN 0 ELSE 1 END"
    " + CASE WHEN hub_subscription_id IS NULL THEN 0 ELSE 1 END"
    " + CASE WHEN email_subscriber_id IS NULL THEN 0 ELSE 1 END) = 1"
)


@contextmanager
def _rebuilding_deliveries() -> Iterator[None]:
    """Keep the deliveries' ``sqlite_sequence`` across a rebuild of the table."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        yield
        return
    given = sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'deliveries'")
    before = bind.execute(given).scalar()
    yield
    if before is None:  # no id given yet
        return
    if bind.execute(given).scalar() is None:  # an empty table: no row until the next insert
        bind.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('deliveries', 0)"))
    bind.execute(
        sa.text("UPDATE sqlite_sequence SET seq = max(seq, :before) WHERE name = 'deliveries'"),
        {"before": before},
    )


def upgrade() -> None:
    with (
        _rebuilding_deliveries(),
        op.batch_alter_table("deliveries", table_kwargs=KEEP_AUTOINCREMENT) as batch_op,
    ):
        batch_op.create_check_constraint("one_subscriber", ONE_SUBSCRIBER)


def downgrade() -> None:
    with (
        _rebuilding_deliveries(),
        op.batch_alter_table("deliveries", table_kwargs=KEEP_AUTOINCREMENT) as batch_op,
    ):
        batch_op.drop_constraint("one_subscriber", type_="check")
