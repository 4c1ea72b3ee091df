"""websub subscriptions of sources

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 08:47:18.759589
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.add_column(sa.Column('websub_state', sa.String(length=20), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('websub_hub', sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('websub_topic', sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('websub_secret', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('websub_callback_key', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('websub_lease_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('websub_error', sa.Text(), nullable=False, server_default=''))



def downgrade() -> None:
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.drop_column('websub_error')
        batch_op.drop_column('websub_lease_expires_at')
        batch_op.drop_column('websub_callback_key')
        batch_op.drop_column('websub_secret')
        batch_op.drop_column('websub_topic')
        batch_op.drop_column('websub_hub')
        batch_op.drop_column('websub_state')

