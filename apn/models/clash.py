"""Clash flags: impossible or double-reported attendance found at intake."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, ForeignKeyConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from apn.extensions import db
from apn.models.base import BigId, TenantEntity, UTCDateTime, utcnow

CLASH_KINDS = ("person_overlap", "double_report", "leader_overlap", "listed_twice", "other_municipality")


class ClashFlag(TenantEntity, db.Model):
    """One clash between a session and another session (or the same session, or another municipality).

    A flag records both sides: ``session_id`` and ``other_session_id`` of the same tenant; for a clash with
    another municipality ``other_session_id`` is empty and ``other_tenant`` is true, and that municipality
    holds its own flag. ``person_id`` is the person concerned (empty for a double-reported session).
    """

    __tablename__ = "clash_flag"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "session_id"], ["activity_session.tenant_id", "activity_session.id"],
                             ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "other_session_id"],
                             ["activity_session.tenant_id", "activity_session.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "person_id"], ["person.tenant_id", "person.id"]),
        CheckConstraint(
            "kind IN ('person_overlap', 'double_report', 'leader_overlap', 'listed_twice', 'other_municipality')",
            name="kind",
        ),
        CheckConstraint("status IN ('open', 'resolved')", name="status"),
        Index("ix_clash_flag_session", "tenant_id", "session_id"),
        Index("ix_clash_flag_other_session", "tenant_id", "other_session_id"),
    )

    kind: Mapped[str] = mapped_column(String(20))
    session_id: Mapped[int] = mapped_column(BigId)
    other_session_id: Mapped[int | None] = mapped_column(BigId)
    other_tenant: Mapped[bool] = mapped_column(Boolean, default=False)
    person_id: Mapped[int | None] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(String(8), default="open")
    #: When resolved: which session keeps the participation (``this``, ``other``, ``both``, ``neither``).
    resolution: Mapped[str | None] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(Text)
    resolved_by_user_id: Mapped[int | None] = mapped_column(BigId)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
