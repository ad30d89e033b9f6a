"""Sessions (sammankomster) and attendance."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from apn.extensions import db
from apn.models.base import BigId, TenantEntity, TenantScoped, UTCDateTime, utcnow

SESSION_TYPES = ("Traening", "Match", "Moete", "Oevrigt")
CHANNELS = ("web", "app", "api", "dak")
ATTENDANCE_ROLES = ("participant", "leader", "temporary_leader")


class ActivitySession(TenantEntity, db.Model):
    """One occasion a group met.

    ``starts_at``/``ends_at`` are local wall-clock timestamps (no time zone) derived from date, start,
    stop and stop date; they make overlap checks and durations set-based.
    """

    __tablename__ = "activity_session"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "group_id"], ["activity_group.tenant_id", "activity_group.id"]),
        ForeignKeyConstraint(["tenant_id", "association_id"], ["association.tenant_id", "association.id"]),
        ForeignKeyConstraint(["tenant_id", "facility_id"], ["facility.tenant_id", "facility.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "partner_client_id"], ["partner_client.tenant_id", "partner_client.id"]
        ),
        UniqueConstraint("tenant_id", "partner_client_id", "partner_code"),
        #: The target of attendance's span foreign key (the session's times copied onto each attendance).
        UniqueConstraint("tenant_id", "id", "starts_at", "ends_at"),
        CheckConstraint("session_type IN ('Traening', 'Match', 'Moete', 'Oevrigt')", name="session_type"),
        CheckConstraint("channel IN ('web', 'app', 'api', 'dak')", name="channel"),
        CheckConstraint("ends_at > starts_at", name="stop_after_start"),
        Index("ix_activity_session_assoc_date", "tenant_id", "association_id", "session_date"),
        Index("ix_activity_session_group_date", "tenant_id", "group_id", "session_date"),
        Index("ix_activity_session_tenant_starts", "tenant_id", "starts_at"),
    )

    group_id: Mapped[int] = mapped_column(BigId)
    #: Denormalised from the group: sessions are read per association far more often than per group.
    association_id: Mapped[int] = mapped_column(BigId)
    session_date: Mapped[dt.date] = mapped_column(Date)
    start_time: Mapped[dt.time] = mapped_column(Time)
    stop_time: Mapped[dt.time] = mapped_column(Time)
    #: Given only when the session ends on a later date than it starts (e.g. 23:30–00:30).
    stop_date: Mapped[dt.date | None] = mapped_column(Date)
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    activity: Mapped[str | None] = mapped_column(String(120))
    facility_id: Mapped[int | None] = mapped_column(BigId)
    session_type: Mapped[str] = mapped_column(String(10), default="Traening")
    team_sport: Mapped[bool] = mapped_column(Boolean, default=False)
    channel: Mapped[str] = mapped_column(String(5))
    partner_client_id: Mapped[int | None] = mapped_column(BigId)
    #: The partner's session code (DAK ``kod``), unique within the partner integration.
    partner_code: Mapped[str | None] = mapped_column(String(50))
    reported_by_user_id: Mapped[int | None] = mapped_column(BigId)
    reported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Attendance(TenantScoped, db.Model):
    """One person at one session: a participation, a leader participation or a temporary leader.

    ``starts_at``/``ends_at`` are the session's, copied so that a person's attendances can be read by time
    from one index (the clash check). The foreign key includes them with ``ON UPDATE CASCADE``, so the
    database refuses a copy that differs from the session and carries a change of the session's times.
    """

    __tablename__ = "attendance"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "session_id", "starts_at", "ends_at"],
            ["activity_session.tenant_id", "activity_session.id", "activity_session.starts_at",
             "activity_session.ends_at"],
            name="fk_attendance_session_span",
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        ForeignKeyConstraint(["tenant_id", "person_id"], ["person.tenant_id", "person.id"]),
        CheckConstraint("role IN ('participant', 'leader', 'temporary_leader')", name="role"),
    )

    session_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime)
    role: Mapped[str] = mapped_column(String(16), default="participant")
    present: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Disability mark for this session (Handikapp).
    disability: Mapped[bool] = mapped_column(Boolean, default=False)


class GrantPeriod(TenantEntity, db.Model):
    """A grant period, by default a half-year ``2025H1`` (1 Jan–30 Jun) or ``2025H2`` (1 Jul–31 Dec)."""

    __tablename__ = "grant_period"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        CheckConstraint("ends_on >= starts_on", name="ends_after_start"),
        CheckConstraint("status IN ('open', 'closed')", name="status"),
    )

    code: Mapped[str] = mapped_column(String(20))
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    deadline: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(6), default="open")
