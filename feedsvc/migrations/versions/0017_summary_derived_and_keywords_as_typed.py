"""summaries remember whether they were derived; keywords kept as typed

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-27 20:10:00

``articles.summary_derived``: True when the summary was derived from the body (none was
given), so that it is derived again whenever the body changes; False when it was set
explicitly. Existing rows are derived when their summary is empty or equals what the body
gives (``summarise(html_to_text(body_html))``, the rule that made it), explicit otherwise;
an explicit summary that happens to equal the body's first sentences counts as derived,
which is what it would be again.

Keyword filters of webhook endpoints and e-mail subscribers are now stored as typed ("thi
đua") and folded when matched. Existing rows keep their folded values ("thi dua"): they
match exactly as before, and show folded until they are set again. No change of schema.
"""

import sqlalchemy as sa
from alembic import op

from feedsvc.articles import summarise
from feedsvc.text import html_to_text

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# A batch that rebuilds a table on SQLite must keep its AUTOINCREMENT (migration 0013).
KEEP_AUTOINCREMENT = {"sqlite_autoincrement": True}

BATCH = 500
articles = sa.table(
    "articles",
    sa.column("id", sa.Integer),
    sa.column("summary", sa.Text),
    sa.column("body_html", sa.Text),
    sa.column("summary_derived", sa.Boolean),
)


def upgrade() -> None:
    connection = op.get_bind()
    # A constant default lets SQLite add the column in place: an expression (sa.true()) would
    # make the batch copy the whole table, 6.5 GB at a million articles.
    default = sa.true() if connection.dialect.name == "postgresql" else "1"
    with op.batch_alter_table("articles", table_kwargs=KEEP_AUTOINCREMENT) as batch_op:
        batch_op.add_column(
            sa.Column("summary_derived", sa.Boolean(), nullable=False, server_default=default)
        )
    mark = (
        sa.update(articles)
        .where(articles.c.id == sa.bindparam("b_id"))
        .values(summary_derived=False)
    )
    last_id = 0
    while True:  # in batches by id: bodies are up to 512 KiB each
        rows = connection.execute(
            sa.select(articles.c.id, articles.c.summary, articles.c.body_html)
            .where(articles.c.id > last_id, articles.c.summary != "")
            .order_by(articles.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        last_id = rows[-1].id
        explicit = [
            {"b_id": row.id}
            for row in rows
            if row.summary != summarise(html_to_text(row.body_html or ""))
        ]
        if explicit:
            connection.execute(mark, explicit)


def downgrade() -> None:
    with op.batch_alter_table("articles", table_kwargs=KEEP_AUTOINCREMENT) as batch_op:
        batch_op.drop_column("summary_derived")
