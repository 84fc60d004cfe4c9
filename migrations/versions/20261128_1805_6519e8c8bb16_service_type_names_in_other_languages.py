"""service type names in other languages

Revision ID: 6519e8c8bb16
Revises: c32c9d79bf9a
Create Date: 2026-11-28 18:05:30.933310
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '6519e8c8bb16'
down_revision: str | None = 'c32c9d79bf9a'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('service_types', schema=None) as batch_op:
        # Existing rows get an empty mapping: no translations yet.
        batch_op.add_column(
            sa.Column('name_translations', sa.JSON(), nullable=False, server_default='{}')
        )



def downgrade() -> None:
    with op.batch_alter_table('service_types', schema=None) as batch_op:
        batch_op.drop_column('name_translations')

