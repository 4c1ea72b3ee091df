"""ids never reused on SQLite

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27 18:00:00

SQLite gives a new row the largest id in the table plus one, so the id of the newest row,
once deleted, is handed out again: a consumer keyed by article id (or a delivery, webhook,
source ... id in a URL or a payload) would take a new thing for the deleted one. With
AUTOINCREMENT SQLite never reuses an id: it keeps the largest ever given in sqlite_sequence.

The tables whose ids are exposed are rebuilt with AUTOINCREMENT (batch "recreate": data,
indexes and foreign keys kept). Copying the rows sets sqlite_sequence to each table's current
largest id; ids above it that were deleted before this migration cannot be known, and may be
given once more. Migrations run with SQLite's foreign keys off (the Alembic environment's own
connection), so dropping the old tables touches no referencing row. The copy rewrites every
row and needs free disk for the largest table: 34 s for 50,000 articles and as many deliveries
(a 530 MB file) on a busy 2-core machine. PostgreSQL: nothing to do, sequences never hand out
an id twice.
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLES = (
    "categories",
    "sources",
    "articles",
    "api_tokens",
    "webhook_endpoints",
    "hub_subscriptions",
    "email_subscribers",
    "deliveries",
    "admin_users",
)


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)
