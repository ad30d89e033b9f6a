"""Shared column types, the tenant mixin and the id allocator."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, Table, func, select, text, update
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from apn.extensions import Base, db
from apn.tenancy import require_tenant_id

#: 64-bit integers on PostgreSQL; SQLite's INTEGER is 64-bit already.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> dt.datetime:
    """Timezone-aware now in UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(DateTime):
    """Timestamps stored with time zone on PostgreSQL; SQLite stores text and gets UTC back."""

    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)


# --- ids ------------------------------------------------------------------------------------------------
#
# Tenant-owned tables have the primary key (tenant_id, id). SQLite only auto-increments a lone INTEGER
# PRIMARY KEY, so ids come from one allocator for every dialect: a PostgreSQL sequence per table
# (``<table>_id_seq``), and on SQLite a row per table in ``id_counter``. Bulk paths reserve blocks with
# :func:`allocate_ids`; ORM inserts call it one id at a time through the column default.

id_counter = Table(
    "id_counter",
    Base.metadata,
    db.Column("name", String(64), primary_key=True),
    db.Column("value", BigId, nullable=False),
)


def sequence_name(table: str) -> str:
    """Name of the PostgreSQL sequence behind ``table.id``."""
    return f"{table}_id_seq"


def allocate_ids(conn, table: str, count: int = 1) -> range:
    """Reserve ``count`` consecutive-or-not ids for ``table`` and return them as a range-like sequence."""
    if count <= 0:
        return range(0)
    if conn.dialect.name == "postgresql":
        if count == 1:
            value = conn.execute(text("SELECT nextval(:s)"), {"s": sequence_name(table)}).scalar_one()
            return range(value, value + 1)
        rows = conn.execute(
            text("SELECT nextval(:s) FROM generate_series(1, :n)"), {"s": sequence_name(table), "n": count}
        ).scalars().all()
        rows.sort()
        if rows[-1] - rows[0] + 1 == count:
            return range(rows[0], rows[-1] + 1)
        return rows  # type: ignore[return-value]
    stmt = (
        update(id_counter)
        .where(id_counter.c.name == table)
        .values(value=id_counter.c.value + count)
        .returning(id_counter.c.value)
    )
    end = conn.execute(stmt).scalar()
    if end is None:
        start = (conn.execute(select(func.max(text("id"))).select_from(text(table))).scalar() or 0) + 1
        conn.execute(id_counter.insert().values(name=table, value=start + count - 1))
        return range(start, start + count)
    return range(end - count + 1, end + 1)


def _next_id(context) -> int:
    table = context.current_column.table.name
    return allocate_ids(context.connection, table, 1)[0]


class TenantScoped:
    """Mixin for every tenant-owned table: ``tenant_id`` leads the primary key; scoped centrally."""

    @declared_attr
    def tenant_id(cls) -> Mapped[int]:  # noqa: N805 - declared_attr takes the class
        return mapped_column(Integer, ForeignKey("tenant.id"), primary_key=True, sort_order=-100)


class TenantEntity(TenantScoped):
    """Tenant-owned table with a surrogate id: primary key ``(tenant_id, id)``."""

    @declared_attr
    def id(cls) -> Mapped[int]:  # noqa: N805
        return mapped_column(BigId, primary_key=True, default=_next_id, autoincrement=False, sort_order=-99)

    @classmethod
    def get_by_id(cls, id_: int) -> Any:
        """The row of the bound tenant with this id, or None (another tenant's id gives None)."""
        return db.session.get(cls, (require_tenant_id(), int(id_)))


class Timestamped:
    """``created_at`` column."""

    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
