"""email subscribers, rate events, instance keys

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 09:47:06.955940
"""

import secrets

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('email_subscribers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('frequency', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('unsubscribed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmation_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_subscribers')),
    sa.UniqueConstraint('email', name=op.f('uq_email_subscribers_email'))
    )
    op.create_table('instance_keys',
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_instance_keys'))
    )
    op.create_table('rate_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rate_events'))
    )
    with op.batch_alter_table('rate_events', schema=None) as batch_op:
        batch_op.create_index('ix_rate_events_key_at', ['key', 'at'], unique=False)

    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_subscriber_id', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_deliveries_email_subscriber_id'), ['email_subscriber_id', 'article_id'])
        batch_op.create_foreign_key(batch_op.f('fk_deliveries_email_subscriber_id_email_subscribers'), 'email_subscribers', ['email_subscriber_id'], ['id'], ondelete='CASCADE')



    keys = sa.table("instance_keys", sa.column("name", sa.String), sa.column("value", sa.String))
    op.bulk_insert(keys, [{"name": "signing", "value": secrets.token_hex(32)}])


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_deliveries_email_subscriber_id_email_subscribers'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_deliveries_email_subscriber_id'), type_='unique')
        batch_op.drop_column('email_subscriber_id')

    with op.batch_alter_table('rate_events', schema=None) as batch_op:
        batch_op.drop_index('ix_rate_events_key_at')

    op.drop_table('rate_events')
    op.drop_table('instance_keys')
    op.drop_table('email_subscribers')
