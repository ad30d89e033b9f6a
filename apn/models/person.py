"""People: participants and leaders, per tenant."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from apn.extensions import db
from apn.models.base import BigId, TenantEntity, UTCDateTime, utcnow

SEXES = ("F", "M", "X")


class Person(TenantEntity, db.Model):
    """A participant or leader.

    Identified by a personal identity number (stored encrypted, matched by its keyed hash) or, for people
    without one, by name + birth date + sex. Birth date and sex are derived from the number when there is
    one.
    """

    __tablename__ = "person"
    __table_args__ = (
        UniqueConstraint("tenant_id", "pnr_hash"),
        ForeignKeyConstraint(["tenant_id", "home_area_id"], ["home_area.tenant_id", "home_area.id"]),
        CheckConstraint("sex IN ('F', 'M', 'X')", name="sex"),
        Index("ix_person_name_birth", "tenant_id", "last_name", "first_name", "birth_date"),
    )

    first_name: Mapped[str] = mapped_column(String(50))
    last_name: Mapped[str] = mapped_column(String(50))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))
    #: HMAC-SHA256 of the 12-digit number with the installation's key; None for people without one.
    pnr_hash: Mapped[str | None] = mapped_column(String(64))
    #: The number, encrypted (Fernet); None for people without one.
    pnr_encrypted: Mapped[str | None] = mapped_column(Text)
    #: A samordningsnummer rather than a personnummer.
    coordination_number: Mapped[bool] = mapped_column(Boolean, default=False)
    home_area_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def has_personnummer(self) -> bool:
        """Whether the person is identified by a personal identity number."""
        return self.pnr_hash is not None

    @property
    def display_name(self) -> str:
        """First and last name."""
        return f"{self.first_name} {self.last_name}"

    @property
    def masked_identity(self) -> str:
        """Birth date with the last four digits hidden, as shown where the number is not needed."""
        suffix = "-****" if self.has_personnummer else ""
        return f"{self.birth_date:%Y%m%d}{suffix}"
