"""Set-based writes shared by the intake."""

from __future__ import annotations

from sqlalchemy import any_, bindparam, insert, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import ARRAY


def one_of(conn, column, values: list):
    """``column IN values`` for a long list of values.

    PostgreSQL: ``column = ANY(:array)`` with the list as one array parameter, so a list of thousands of
    values is neither compiled into thousands of placeholders nor parsed again by the driver on every call.
    SQLite: a plain ``IN`` (callers keep lists under its parameter limit).
    """
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def take_write_lock(conn) -> None:
    """SQLite: take the database's write lock now (as ``BEGIN IMMEDIATE`` would), so the reads that follow
    see every committed write and no other writer can slip in before this transaction's own writes.

    SQLite has one writer at a time; a transaction that reads first and writes later decides on what it read
    before it waited for the lock. PostgreSQL: nothing (row locks and ``ON CONFLICT`` do the work there).
    """
    if conn.dialect.name == "sqlite":
        conn.execute(text("UPDATE id_counter SET value = value WHERE 0 = 1"))


def insert_rows(conn, table, rows: list[dict], *, on_conflict: tuple[str, ...] = (),
                update: tuple[str, ...] = ()) -> None:
    """Insert many rows in one round trip where the database allows it.

    PostgreSQL: one ``INSERT … SELECT FROM unnest(array, array, …)`` per call, one array parameter per
    column, so neither a row-by-row executemany nor the compilation of a statement with tens of thousands of
    bind parameters is paid (and COPY is not allowed into tables with row-level security). SQLite: a plain
    executemany, which is already fast in-process.

    ``on_conflict`` names the columns of a unique constraint: a row that would break it (a concurrent
    transaction stored the same key first; PostgreSQL waits for that one to end) is skipped, or, with
    ``update``, those columns of the stored row take the new values. The caller reads back what is stored.
    """
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        stmt = sqlite.insert(table) if on_conflict else insert(table)
        if on_conflict and update:
            stmt = stmt.on_conflict_do_update(index_elements=list(on_conflict),
                                              set_={c: stmt.excluded[c] for c in update})
        elif on_conflict:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(on_conflict))
        conn.execute(stmt, rows)
        return
    keys = list(rows[0])
    params = {k: [r[k] for r in rows] for k in keys}
    # Python-side column defaults (timestamps, flags) the ORM would have filled in, one value per call.
    for col in table.c:
        if col.name in params or col.default is None or col.name == "id":
            continue
        value = col.default.arg(None) if col.default.is_callable else col.default.arg
        params[col.name] = [value] * len(rows)
        keys.append(col.name)
    casts = ", ".join(
        f"%({k})b::{table.c[k].type.compile(dialect=conn.dialect)}[]" for k in keys
    )
    sql = f"INSERT INTO {table.name} ({', '.join(keys)}) SELECT * FROM unnest({casts})"
    if on_conflict:
        action = "UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in update) if update else "NOTHING"
        sql += f" ON CONFLICT ({', '.join(on_conflict)}) DO {action}"
    conn.exec_driver_sql(sql, params)


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
