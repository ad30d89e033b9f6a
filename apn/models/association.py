"""Associations (föreningar)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from apn.extensions import db
from apn.identity import format_orgnr
from apn.models.base import TenantEntity, UTCDateTime, utcnow

PAYOUT_METHODS = ("bankgiro", "plusgiro", "bank")


class Association(TenantEntity, db.Model):
    """A club registered in one municipality, identified by its organisation number."""

    __tablename__ = "association"
    __table_args__ = (
        UniqueConstraint("tenant_id", "organisationsnummer"),
        CheckConstraint("payout_method IN ('bankgiro', 'plusgiro', 'bank')", name="payout_method"),
    )

    name: Mapped[str] = mapped_column(String(200))
    organisationsnummer: Mapped[str] = mapped_column(String(10))
    contact_name: Mapped[str | None] = mapped_column(String(120))
    contact_email: Mapped[str | None] = mapped_column(String(200))
    contact_phone: Mapped[str | None] = mapped_column(String(50))
    payout_method: Mapped[str | None] = mapped_column(String(10))
    #: Bankgiro (7–8 digits), Plusgiro (2–8 digits) or bank account (clearing + account, digits only).
    payout_account: Mapped[str | None] = mapped_column(String(40))
    #: A disability association (handikappförening): several rule sets treat it differently.
    disability_association: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def organisationsnummer_display(self) -> str:
        """``NNNNNN-NNNN``."""
        return format_orgnr(self.organisationsnummer)
