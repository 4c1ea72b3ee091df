"""websub hub subscriptions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 09:42:24.964124
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('hub_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=2000), nullable=False),
    sa.Column('callback', sa.String(length=2000), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('secret', sa.String(length=200), nullable=True),
    sa.Column('lease_seconds', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('intent', sa.String(length=20), nullable=False),
    sa.Column('intent_secret', sa.String(length=200), nullable=True),
    sa.Column('intent_lease_seconds', sa.Integer(), nullable=True),
    sa.Column('intent_reason', sa.Text(), nullable=False),
    sa.Column('intent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hub_subscriptions')),
    sa.UniqueConstraint('topic', 'callback', name=op.f('uq_hub_subscriptions_topic'))
    )
    with op.batch_alter_table('hub_subscriptions', schema=None) as batch_op:
        batch_op.create_index('ix_hub_subscriptions_intent', ['intent', 'intent_at'], unique=False)

    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hub_subscription_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('content_type', sa.String(length=100), nullable=False, server_default='application/json'))
        batch_op.alter_column('endpoint_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_unique_constraint(batch_op.f('uq_deliveries_hub_subscription_id'), ['hub_subscription_id', 'article_id'])
        batch_op.create_foreign_key(batch_op.f('fk_deliveries_hub_subscription_id_hub_subscriptions'), 'hub_subscriptions', ['hub_subscription_id'], ['id'], ondelete='CASCADE')



def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_deliveries_hub_subscription_id_hub_subscriptions'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_deliveries_hub_subscription_id'), type_='unique')
        batch_op.alter_column('endpoint_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('content_type')
        batch_op.drop_column('hub_subscription_id')

    with op.batch_alter_table('hub_subscriptions', schema=None) as batch_op:
        batch_op.drop_index('ix_hub_subscriptions_intent')

    op.drop_table('hub_subscriptions')
