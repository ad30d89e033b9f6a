"""Set-based writes shared by the intake."""

from __future__ import annotations

from sqlalchemy import insert


def insert_rows(conn, table, rows: list[dict], max_params: int = 30000) -> None:
    """Insert many rows as multi-row ``INSERT … VALUES`` statements, chunked under the bind-parameter limits
    (PostgreSQL 65,535; SQLite 32,766). Much faster than a row-by-row executemany on PostgreSQL, and COPY is
    not allowed into tables with row-level security."""
    if not rows:
        return
    keys = list(rows[0])
    per = max(1, max_params // len(keys))
    for i in range(0, len(rows), per):
        conn.execute(insert(table).values([{k: r[k] for k in keys} for r in rows[i:i + per]]))


#: A batch at least this large refreshes the planner statistics before the clash check reads it back.
ANALYZE_SESSIONS = 100
ANALYZE_ROWS = 2000


def refresh_statistics(conn, sessions: int, rows: int) -> None:
    """After a large batch on PostgreSQL, refresh the planner's statistics of the intake tables.

    Without them (a new database, a new tenant's first push, tables emptied by tests) the planner, which
    under row-level security already underestimates every table, believes the tenant has a handful of rows
    and reads its sessions once per attendance row: seconds instead of milliseconds for a 1,000-session
    batch. The app role does not own the tables, so it calls ``apn_refresh_statistics()``, a SECURITY
    DEFINER function created by the migrations; ANALYZE inside the transaction sees the batch's own rows.
    The function skips the work when another transaction is refreshing (advisory lock), so concurrent bulk
    pushes never wait for each other.
    """
    if conn.dialect.name != "postgresql" or (sessions < ANALYZE_SESSIONS and rows < ANALYZE_ROWS):
        return
    conn.exec_driver_sql("SELECT apn_refresh_statistics()")
