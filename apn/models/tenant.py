"""Tenants (municipalities), home areas and facilities."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKeyConstraint, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from apn.extensions import db
from apn.models.base import BigId, TenantEntity, UTCDateTime, utcnow


class Tenant(db.Model):
    """A municipality using the system. Not tenant-owned itself: it is the tenant."""

    __tablename__ = "tenant"
    __table_args__ = (CheckConstraint("length(kommunkod) = 4", name="kommunkod_len"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kommunkod: Mapped[str] = mapped_column(String(4), unique=True)
    ruleset_preset: Mapped[str | None] = mapped_column(String(60))
    #: Smallest cell shown in statistics; smaller counts are suppressed.
    small_cell_threshold: Mapped[int] = mapped_column(Integer, default=5)
    #: Months after a period's end before personal data is deleted (gallring).
    retention_months: Mapped[int] = mapped_column(Integer, default=36)
    #: Tenant policies that are not rules (clash policy, accepted partners, …).
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<Tenant {self.slug} {self.kommunkod}>"


class HomeArea(TenantEntity, db.Model):
    """A statistical area of people's homes (DeSO, RegSO or the municipality's own districts)."""

    __tablename__ = "home_area"
    __table_args__ = (UniqueConstraint("tenant_id", "code", "version"),)

    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    version: Mapped[str] = mapped_column(String(40), default="")


class Facility(TenantEntity, db.Model):
    """A place where sessions happen (anläggning, lokal)."""

    __tablename__ = "facility"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        ForeignKeyConstraint(["tenant_id", "home_area_id"], ["home_area.tenant_id", "home_area.id"]),
    )

    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str | None] = mapped_column(String(200))
    home_area_id: Mapped[int | None] = mapped_column(BigId)
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
