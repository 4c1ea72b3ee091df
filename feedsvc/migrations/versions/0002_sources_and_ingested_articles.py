"""sources and ingested articles

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 08:35:14.000433
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('category_map', sa.JSON(), nullable=False),
    sa.Column('interval_minutes', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('disabled_reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('etag', sa.String(length=500), nullable=True),
    sa.Column('last_modified', sa.String(length=100), nullable=True),
    sa.Column('next_fetch_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_fetch_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_duration_ms', sa.Integer(), nullable=True),
    sa.Column('last_bytes', sa.Integer(), nullable=True),
    sa.Column('last_new', sa.Integer(), nullable=False),
    sa.Column('last_updated', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('last_warning', sa.Text(), nullable=False),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('fetch_count', sa.Integer(), nullable=False),
    sa.Column('error_count', sa.Integer(), nullable=False),
    sa.Column('item_count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_sources_category_id_categories')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sources')),
    sa.UniqueConstraint('url', name=op.f('uq_sources_url'))
    )
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.create_index('ix_sources_due', ['enabled', 'next_fetch_at'], unique=False)

    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('entry_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('content_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('published_at_estimated', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index('ix_articles_source_link', ['source_id', 'link'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_articles_source_id'), ['source_id', 'entry_key'])
        batch_op.create_foreign_key(batch_op.f('fk_articles_source_id_sources'), 'sources', ['source_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_articles_source_id_sources'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_articles_source_id'), type_='unique')
        batch_op.drop_index('ix_articles_source_link')
        batch_op.drop_column('published_at_estimated')
        batch_op.drop_column('content_hash')
        batch_op.drop_column('entry_key')
        batch_op.drop_column('source_id')

    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.drop_index('ix_sources_due')

    op.drop_table('sources')
