"""account security: invitations to accept, failed sign-ins shared by every worker, session generation

- ``leader_invitation`` (tenant-owned, row-level security): reporting rights offered to an e-mail address,
  granted only when the holder of the address accepts the link.
- ``login_failure`` (global, like ``app_user``): failed sign-ins per hashed e-mail address and per hashed
  IP address, so throttling holds across every worker process.
- ``app_user.session_generation``: stored in the session at sign-in and checked on every request; signing
  out or a new password increments it and so ends every session of the user.

Revision ID: 0005_account_security
Revises: 0004_attendance_span
Create Date: 2026-12-03 18:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0005_account_security'
down_revision = '0004_attendance_span'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('login_failure',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('at_ms', BIG_ID, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failure'))
    )
    with op.batch_alter_table('login_failure', schema=None) as batch_op:
        batch_op.create_index('ix_login_failure_at', ['at_ms'], unique=False)
        batch_op.create_index('ix_login_failure_key_at', ['key', 'at_ms'], unique=False)

    op.create_table('leader_invitation',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('id', BIG_ID, autoincrement=False, nullable=False),
    sa.Column('association_id', BIG_ID, nullable=False),
    sa.Column('email', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('group_ids', sa.JSON(), nullable=False),
    sa.Column('invited_by_user_id', BIG_ID, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accepted_by_user_id', BIG_ID, nullable=True),
    sa.ForeignKeyConstraint(['accepted_by_user_id'], ['app_user.id'],
                            name=op.f('fk_leader_invitation_accepted_by_user_id_app_user')),
    sa.ForeignKeyConstraint(['tenant_id', 'association_id'], ['association.tenant_id', 'association.id'],
                            name=op.f('fk_leader_invitation_tenant_id_association_id_association')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_leader_invitation_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_leader_invitation'))
    )
    with op.batch_alter_table('leader_invitation', schema=None) as batch_op:
        batch_op.create_index('ix_leader_invitation_association', ['tenant_id', 'association_id'], unique=False)

    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False))

    from apn.dbsecurity import grant_global_table, secure_tenant_table

    grant_global_table(op, "login_failure", serial=True)
    secure_tenant_table(op, "leader_invitation")


def downgrade():
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_column('session_generation')

    with op.batch_alter_table('leader_invitation', schema=None) as batch_op:
        batch_op.drop_index('ix_leader_invitation_association')

    op.drop_table('leader_invitation')
    with op.batch_alter_table('login_failure', schema=None) as batch_op:
        batch_op.drop_index('ix_login_failure_key_at')
        batch_op.drop_index('ix_login_failure_at')

    op.drop_table('login_failure')
