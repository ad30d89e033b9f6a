"""attendance span: the session's times on each attendance, kept equal by a cascading foreign key

The clash check reads a person's attendances by time from one index instead of visiting every session
the person ever attended. Existing rows get their session's times.

Revision ID: 0004_attendance_span
Revises: 0003_statistics
Create Date: 2026-11-22 18:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0004_attendance_span'
down_revision = '0003_statistics'
branch_labels = None
depends_on = None

OLD_FK = 'fk_attendance_tenant_id_session_id_activity_session'
NEW_FK = 'fk_attendance_session_span'
SESSION_SPAN_KEY = 'uq_activity_session_tenant_id_id_starts_at_ends_at'


def upgrade():
    with op.batch_alter_table('activity_session', schema=None) as batch_op:
        batch_op.create_unique_constraint(SESSION_SPAN_KEY, ['tenant_id', 'id', 'starts_at', 'ends_at'])
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('starts_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('ends_at', sa.DateTime(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        # The tables' row-level security binds their owner too: this transaction sees every tenant.
        op.execute("SELECT set_config('app.all_tenants', 'on', true)")
    op.execute("""
        UPDATE attendance SET
          starts_at = (SELECT s.starts_at FROM activity_session s
                       WHERE s.tenant_id = attendance.tenant_id AND s.id = attendance.session_id),
          ends_at = (SELECT s.ends_at FROM activity_session s
                     WHERE s.tenant_id = attendance.tenant_id AND s.id = attendance.session_id)
    """)
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.alter_column('starts_at', existing_type=sa.DateTime(), nullable=False)
        batch_op.alter_column('ends_at', existing_type=sa.DateTime(), nullable=False)
        batch_op.drop_constraint(OLD_FK, type_='foreignkey')
        batch_op.create_foreign_key(NEW_FK, 'activity_session', ['tenant_id', 'session_id', 'starts_at', 'ends_at'],
                                    ['tenant_id', 'id', 'starts_at', 'ends_at'], ondelete='CASCADE',
                                    onupdate='CASCADE')
        batch_op.drop_index('ix_attendance_clash')
        batch_op.create_index('ix_attendance_span', ['tenant_id', 'person_id', 'starts_at'], unique=False,
                              postgresql_include=['ends_at', 'session_id', 'present', 'role'])


def downgrade():
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.drop_index('ix_attendance_span')
        batch_op.create_index('ix_attendance_clash', ['tenant_id', 'person_id', 'session_id'], unique=False,
                              postgresql_include=['present', 'role'])
        batch_op.drop_constraint(NEW_FK, type_='foreignkey')
        batch_op.create_foreign_key(OLD_FK, 'activity_session', ['tenant_id', 'session_id'], ['tenant_id', 'id'],
                                    ondelete='CASCADE')
        batch_op.drop_column('ends_at')
        batch_op.drop_column('starts_at')
    with op.batch_alter_table('activity_session', schema=None) as batch_op:
        batch_op.drop_constraint(SESSION_SPAN_KEY, type_='unique')
