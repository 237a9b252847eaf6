"""Case KPI periods as arrays, with a generation

case_kpi_periods holds one row per (county, kind, period, level) with the keys and their
figures in parallel arrays: a period computed again is five rows to write and read, where it
was hundreds (each with its own index entries). case_kpi_state.generation is new with every
computing of a period, so that a process keeping the rows it read (gridgov.cases.kpis)
fetches again only those computed since. The kept figures are forgotten here; the next call
of case_kpis computes them again.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-29 03:50:00
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

COUNTS = ("due", "closed", "closed_on_time", "reworked", "dispatched", "dispatched_on_time",
          "returned")


def _keys():
    return [sa.Column('county_code', sa.Text(), nullable=False),
            sa.Column('period_kind', sa.Text(), nullable=False),
            sa.Column('period', sa.Date(), nullable=False),
            sa.Column('level', sa.Text(), nullable=False)]


def upgrade() -> None:
    op.execute("DELETE FROM case_kpi_state")
    op.drop_index('ix_case_kpi_periods_read', table_name='case_kpi_periods')
    op.drop_table('case_kpi_periods')
    op.create_table(
        'case_kpi_periods', *_keys(),
        sa.Column('keys', postgresql.ARRAY(sa.Text()), nullable=False),
        *[sa.Column(name, postgresql.ARRAY(sa.Integer()), nullable=False) for name in COUNTS],
        sa.Column('median_hours', postgresql.ARRAY(sa.Float(precision=53)), nullable=False),
        sa.Column('p90_hours', postgresql.ARRAY(sa.Float(precision=53)), nullable=False),
        sa.PrimaryKeyConstraint('county_code', 'period_kind', 'period', 'level',
                                name=op.f('pk_case_kpi_periods')))
    op.add_column('case_kpi_state', sa.Column('generation', sa.BigInteger(),
                                              sa.Identity(always=False), nullable=False))


def downgrade() -> None:
    op.execute("DELETE FROM case_kpi_state")
    op.drop_column('case_kpi_state', 'generation')
    op.drop_table('case_kpi_periods')
    op.create_table(
        'case_kpi_periods', *_keys(),
        sa.Column('key', sa.Text(), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS],
        sa.Column('median_hours', sa.Float(precision=53), nullable=True),
        sa.Column('p90_hours', sa.Float(precision=53), nullable=True),
        sa.PrimaryKeyConstraint('county_code', 'period_kind', 'period', 'level', 'key',
                                name=op.f('pk_case_kpi_periods')))
    op.create_index('ix_case_kpi_periods_read', 'case_kpi_periods',
                    ['period_kind', 'level', 'period'], unique=False)
