"""digest_through of email subscribers

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 09:51:15.363115
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('email_subscribers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digest_through', sa.DateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('email_subscribers', schema=None) as batch_op:
        batch_op.drop_column('digest_through')

