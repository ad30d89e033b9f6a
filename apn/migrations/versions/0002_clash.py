"""clash detection: flag identity, cross-municipality reference, indexes for the overlap check

Revision ID: 0002_clash
Revises: 0001
Create Date: 2026-11-22 16:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0002_clash'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('clash_flag', schema=None) as batch_op:
        batch_op.add_column(sa.Column('clash_key', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('other_ref', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('other_first', sa.Boolean(), nullable=True))
    # Flags written before this revision (if any) get a unique key of their own; a rescan replaces them.
    op.execute("UPDATE clash_flag SET clash_key = 'legacy:' || CAST(id AS VARCHAR) WHERE clash_key IS NULL")
    with op.batch_alter_table('clash_flag', schema=None) as batch_op:
        batch_op.alter_column('clash_key', existing_type=sa.String(length=200), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_clash_flag_tenant_id_clash_key'), ['tenant_id', 'clash_key'])
        batch_op.create_index('ix_clash_flag_other_ref', ['other_ref'], unique=False)
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.create_index('ix_attendance_clash', ['tenant_id', 'person_id', 'session_id'], unique=False,
                              postgresql_include=['present', 'role'])
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.create_index('ix_person_pnr_hash', ['pnr_hash'], unique=False)


def downgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_index('ix_person_pnr_hash')
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.drop_index('ix_attendance_clash')
    with op.batch_alter_table('clash_flag', schema=None) as batch_op:
        batch_op.drop_index('ix_clash_flag_other_ref')
        batch_op.drop_constraint(batch_op.f('uq_clash_flag_tenant_id_clash_key'), type_='unique')
        batch_op.drop_column('other_first')
        batch_op.drop_column('other_ref')
        batch_op.drop_column('clash_key')
