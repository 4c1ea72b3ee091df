"""announced_at marks articles still to announce

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 08:54:34.306651
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('announced_at', sa.DateTime(timezone=True), nullable=True))
    # What existed before is not news any more: only articles stored from now on are announced.
    op.execute("UPDATE articles SET announced_at = published_at")
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.create_index('ix_articles_unannounced', ['published_at'], unique=False, postgresql_where=sa.text('announced_at IS NULL'), sqlite_where=sa.text('announced_at IS NULL'))



def downgrade() -> None:
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_index('ix_articles_unannounced', postgresql_where=sa.text('announced_at IS NULL'), sqlite_where=sa.text('announced_at IS NULL'))
        batch_op.drop_column('announced_at')

