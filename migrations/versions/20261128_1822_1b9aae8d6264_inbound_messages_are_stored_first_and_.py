"""inbound messages are stored first and processed after

Revision ID: 1b9aae8d6264
Revises: 6519e8c8bb16
Create Date: 2026-11-28 18:22:35.470415
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '1b9aae8d6264'
down_revision: str | None = '6519e8c8bb16'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('latitude', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('longitude', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_interactions_direction_processed', ['direction', 'processed_at'], unique=False)

    # Everything received before this revision went through the old synchronous intake.
    op.execute("UPDATE interactions SET processed_at = created_at WHERE direction = 'inbound'")


def downgrade() -> None:
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.drop_index('ix_interactions_direction_processed')
        batch_op.drop_column('processed_at')
        batch_op.drop_column('longitude')
        batch_op.drop_column('latitude')


