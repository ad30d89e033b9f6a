"""The name an association typed for a person: what that association's pages show for the person."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from apn.extensions import db
from apn.models.base import BigId, TenantScoped, UTCDateTime, utcnow


class AssociationPersonName(TenantScoped, db.Model):
    """The first and last name an association typed for a person (roster add or import, a leader's new
    participant, a partner's person write for the association); the latest typing wins.

    A person matched by a personal number has one stored name, typed by whoever reported the person first.
    Each association is shown the name it typed itself (``apn.services.rosters.names_for``), so typing a
    number discloses nothing another association stored (issue 11 item 3).
    """

    __tablename__ = "association_person_name"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "association_id"], ["association.tenant_id", "association.id"]),
        ForeignKeyConstraint(["tenant_id", "person_id"], ["person.tenant_id", "person.id"]),
        Index("ix_association_person_name_person", "tenant_id", "person_id"),
    )

    association_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    first_name: Mapped[str] = mapped_column(String(50))
    last_name: Mapped[str] = mapped_column(String(50))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
