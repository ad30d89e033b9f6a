"""Rule sets: a tenant's grant rules as a dated, versioned document."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from apn.extensions import db
from apn.models.base import BigId, TenantEntity, UTCDateTime, utcnow


class RuleSet(TenantEntity, db.Model):
    """One version of a tenant's rules, valid from ``valid_from`` up to ``valid_to`` (inclusive)."""

    __tablename__ = "rule_set"
    __table_args__ = (UniqueConstraint("tenant_id", "version"),)

    name: Mapped[str] = mapped_column(String(120))
    version: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    #: The preset the document started from, if any.
    preset: Mapped[str | None] = mapped_column(String(60))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_user_id: Mapped[int | None] = mapped_column(BigId)
