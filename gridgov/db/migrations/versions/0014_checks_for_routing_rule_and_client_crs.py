"""Every field's choices are a CHECK now (derived in Layer.define); the two fields whose choices
had no constraint yet get theirs. Written by hand: Alembic does not compare CHECK constraints.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-28
"""

from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_check_constraint(
        op.f('ck_cases_routing_rule'), 'cases',
        "routing_rule IS NULL OR routing_rule IN ('override', 'compound', 'grid_cell', "
        "'division', 'township', 'manual')")
    op.create_check_constraint(op.f('ck_checkins_client_crs'), 'checkins',
                               "client_crs IN ('wgs84', 'gcj02', 'bd09')")


def downgrade() -> None:
    op.drop_constraint(op.f('ck_checkins_client_crs'), 'checkins', type_='check')
    op.drop_constraint(op.f('ck_cases_routing_rule'), 'cases', type_='check')
