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
