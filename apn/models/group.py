"""Attendance cards / groups and their rosters."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKeyConstraint,
    Integer,
    String,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from apn.extensions import db
from apn.models.base import BigId, TenantEntity, TenantScoped

ROSTER_ROLES = ("participant", "leader")


class Group(TenantEntity, db.Model):
    """A recurring activity group (närvarokort) of an association."""

    __tablename__ = "activity_group"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "association_id"], ["association.tenant_id", "association.id"]),
        ForeignKeyConstraint(["tenant_id", "main_facility_id"], ["facility.tenant_id", "facility.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "partner_client_id"], ["partner_client.tenant_id", "partner_client.id"]
        ),
        UniqueConstraint("tenant_id", "partner_client_id", "partner_card_number"),
        CheckConstraint("usual_weekday BETWEEN 0 AND 6", name="weekday"),
    )

    association_id: Mapped[int] = mapped_column(BigId)
    name: Mapped[str] = mapped_column(String(120))
    main_activity: Mapped[str | None] = mapped_column(String(120))
    main_facility_id: Mapped[int | None] = mapped_column(BigId)
    #: Usual weekday, 0 = Monday.
    usual_weekday: Mapped[int | None] = mapped_column(Integer)
    usual_start: Mapped[dt.time | None] = mapped_column(Time)
    usual_stop: Mapped[dt.time | None] = mapped_column(Time)
    #: The partner system the card came from and its card number (NaervarokortNummer).
    partner_client_id: Mapped[int | None] = mapped_column(BigId)
    partner_card_number: Mapped[str | None] = mapped_column(String(50))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class GroupMember(TenantScoped, db.Model):
    """A person on a group's roster, as participant or leader."""

    __tablename__ = "group_member"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "group_id"], ["activity_group.tenant_id", "activity_group.id"]),
        ForeignKeyConstraint(["tenant_id", "person_id"], ["person.tenant_id", "person.id"]),
        CheckConstraint("role IN ('participant', 'leader')", name="role"),
    )

    group_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    role: Mapped[str] = mapped_column(String(12), default="participant")
