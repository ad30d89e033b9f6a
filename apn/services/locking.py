"""Serialise check-then-insert writes on the row they belong to (issue 11 item 12: races never answer 500).

A service that reads "is it stored already?" and then inserts a row with a unique key calls
:func:`lock_parent` first: two requests at once (a double click, two tabs) then run one after the other, and
the second reads what the first stored and answers "already there" (or replays it) instead of breaking the
unique key with an ``IntegrityError``.
"""

from __future__ import annotations

from sqlalchemy import select

from apn.extensions import db
from apn.intake.bulk import take_write_lock


def lock_parent(column, value) -> None:
    """Lock the row whose ``column`` (its key) equals ``value`` until the transaction ends.

    PostgreSQL: ``SELECT … FOR NO KEY UPDATE`` of that row, so two writers of its children queue on it, while
    the foreign-key checks of other inserts (``FOR KEY SHARE``) are not held up. SQLite: the database's
    write lock, taken now (one writer at a time), so the reads that follow see every committed write.
    """
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        db.session.execute(select(column).where(column == value).with_for_update(key_share=True))
    else:
        take_write_lock(conn)
