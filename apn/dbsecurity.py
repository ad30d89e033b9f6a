"""PostgreSQL-only parts of the migrations: id sequences, row-level security and grants.

Every tenant-owned table gets ``ENABLE`` and ``FORCE ROW LEVEL SECURITY`` (so even the owner is bound) and
one policy: a row is visible and writable when its ``tenant_id`` equals the transaction setting
``app.tenant_id``, or when ``app.all_tenants`` is ``on`` (explicit system scope, see apn/tenancy.py).
The app's role (``DB_APP_ROLE``) gets SELECT/INSERT/UPDATE/DELETE, except on the audit log, where it may
only SELECT and INSERT: the log is append-only.
"""

from __future__ import annotations

from flask import current_app

POLICY = (
    "current_setting('app.all_tenants', true) = 'on' "
    "OR tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::integer"
)


def _app_role() -> str | None:
    role = current_app.config.get("DB_APP_ROLE")
    if role and not role.replace("_", "").isalnum():
        raise ValueError("DB_APP_ROLE must be a plain identifier")
    return role


def secure_tenant_table(op, table: str, has_id: bool = True, append_only: bool = False) -> None:
    """Sequence for ``id``, row-level security and grants for one tenant-owned table (PostgreSQL only)."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    if has_id:
        op.execute(f"CREATE SEQUENCE IF NOT EXISTS {table}_id_seq OWNED BY {table}.id")
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({POLICY}) WITH CHECK ({POLICY})")
    role = _app_role()
    if role:
        privileges = "SELECT, INSERT" if append_only else "SELECT, INSERT, UPDATE, DELETE"
        op.execute(f"GRANT {privileges} ON {table} TO {role}")
        if has_id:
            op.execute(f"GRANT USAGE, SELECT ON SEQUENCE {table}_id_seq TO {role}")


def grant_global_table(op, table: str, serial: bool = False) -> None:
    """Grants on a table that is not tenant-owned (tenants, users)."""
    bind = op.get_bind()
    role = _app_role()
    if bind.dialect.name != "postgresql" or not role:
        return
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {role}")
    if serial:
        op.execute(f"GRANT USAGE, SELECT ON SEQUENCE {table}_id_seq TO {role}")
