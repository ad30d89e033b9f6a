"""Payout batches and payouts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from apn.extensions import db
from apn.models.base import BigId, TenantEntity, UTCDateTime, utcnow


class PayoutBatch(TenantEntity, db.Model):
    """A set of payouts exported together as one payment file."""

    __tablename__ = "payout_batch"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "period_id"], ["grant_period.tenant_id", "grant_period.id"]),
        CheckConstraint("status IN ('draft', 'exported', 'paid')", name="status"),
    )

    period_id: Mapped[int | None] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(String(10), default="draft")
    file_format: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_user_id: Mapped[int | None] = mapped_column(BigId)
    exported_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Payout(TenantEntity, db.Model):
    """Money to one association, from one decision, in one batch."""

    __tablename__ = "payout"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "batch_id"], ["payout_batch.tenant_id", "payout_batch.id"]),
        ForeignKeyConstraint(["tenant_id", "association_id"], ["association.tenant_id", "association.id"]),
        ForeignKeyConstraint(["tenant_id", "decision_id"], ["decision.tenant_id", "decision.id"]),
        CheckConstraint("amount_ore > 0", name="amount_positive"),
        CheckConstraint("payout_method IN ('bankgiro', 'plusgiro', 'bank')", name="payout_method"),
    )

    batch_id: Mapped[int] = mapped_column(BigId)
    association_id: Mapped[int] = mapped_column(BigId)
    decision_id: Mapped[int] = mapped_column(BigId)
    amount_ore: Mapped[int] = mapped_column(BigId)
    payout_method: Mapped[str] = mapped_column(String(10))
    payout_account: Mapped[str] = mapped_column(String(40))
