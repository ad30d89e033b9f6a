"""Clash flags: impossible or double-reported attendance found at intake."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from apn.extensions import db
from apn.models.base import BigId, TenantEntity, UTCDateTime, utcnow
from apn.models.person import Person
from apn.models.session import Attendance

CLASH_KINDS = ("person_overlap", "double_report", "leader_overlap", "listed_twice", "other_municipality")
RESOLUTIONS = ("this", "other", "both", "neither")


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
        UniqueConstraint("tenant_id", "clash_key"),
        Index("ix_clash_flag_session", "tenant_id", "session_id"),
        Index("ix_clash_flag_other_session", "tenant_id", "other_session_id"),
        # Cross-tenant by design: a municipality clears the flags other municipalities hold about its
        # sessions by this opaque reference (see apn/clash/detection.py).
        Index("ix_clash_flag_other_ref", "other_ref"),
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
    #: Identity of the clash (kind, sides, person): one flag per clash, also under concurrent intake.
    clash_key: Mapped[str] = mapped_column(String(200))
    #: For ``other_municipality``: an opaque keyed hash of the other municipality's session, so that
    #: municipality can clear this flag when its side changes, without this tenant learning anything.
    other_ref: Mapped[str | None] = mapped_column(String(64))
    #: For ``other_municipality``: whether the other municipality's session was reported first.
    other_first: Mapped[bool | None] = mapped_column(Boolean)


# Indexes the clash check needs on other aggregates' tables (migrations 0002_clash and 0004_attendance_span).
#: A person's attendances by time: the overlap check reads the few that start within a day before the new
#: session's end. On PostgreSQL covering (INCLUDE the rest the check reads) for an index-only scan. Not
#: covering on SQLite on purpose: SQLite's planner (without statistics) would prefer a covering index
#: bound only by tenant_id over the primary key for queries by session.
Index("ix_attendance_span", Attendance.tenant_id, Attendance.person_id, Attendance.starts_at,
      postgresql_include=["ends_at", "session_id", "present", "role"])
#: The same person in other municipalities, by keyed hash of the personal number.
Index("ix_person_pnr_hash", Person.pnr_hash)
