"""lz4 compression of long texts on PostgreSQL

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 12:35:00

PostgreSQL compresses values over ~2 KB with pglz by default; an ingest writes thousands of
article bodies and search texts of 5–10 KB, and pglz was the largest part of the database
server's CPU in the ingest benchmark (cold ingest 3.80 s with pglz, 3.31 s with lz4, on the
same 2 cores). lz4 is part of PostgreSQL 14+ when built with it (Debian's is); where it is
not, nothing changes. Only values written from now on are affected. SQLite: nothing to do.
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

COLUMNS = {
    "articles": ("body_html", "search_text", "summary"),
    "delivery_payloads": ("body",),
}


def _set(method: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    available = bind.exec_driver_sql(
        "SELECT %(method)s = ANY(enumvals) FROM pg_settings"
        " WHERE name = 'default_toast_compression'",
        {"method": method},
    ).scalar()
    if not available:
        return
    for table, columns in COLUMNS.items():
        for column in columns:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method}")


def upgrade() -> None:
    _set("lz4")


def downgrade() -> None:
    _set("pglz")
