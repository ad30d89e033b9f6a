"""planner statistics: a function the app role may call to ANALYZE the intake tables after large batches

Revision ID: 0003_statistics
Revises: 0002_clash
Create Date: 2026-11-22 16:45:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0003_statistics'
down_revision = '0002_clash'
branch_labels = None
depends_on = None

FUNCTION = """
CREATE FUNCTION apn_refresh_statistics() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  -- one refresh at a time; others go on without waiting (the lock ends with the transaction)
  IF pg_try_advisory_xact_lock(7304, 1) THEN
    ANALYZE activity_session;
    ANALYZE attendance;
    ANALYZE person;
  END IF;
END
$$
"""


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    op.execute("REVOKE ALL ON FUNCTION apn_refresh_statistics() FROM PUBLIC")
    from apn.dbsecurity import _app_role

    role = _app_role()
    if role:
        op.execute(f"GRANT EXECUTE ON FUNCTION apn_refresh_statistics() TO {role}")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION apn_refresh_statistics()")
