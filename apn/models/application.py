"""Period reports (applications), decisions and their line items."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from apn.extensions import db
from apn.models.base import BigId, TenantEntity, TenantScoped, UTCDateTime, utcnow


class Application(TenantEntity, db.Model):
    """An association's claim for one grant period (periodrapport)."""

    __tablename__ = "application"
    __table_args__ = (
        UniqueConstraint("tenant_id", "association_id", "period_id"),
        ForeignKeyConstraint(["tenant_id", "association_id"], ["association.tenant_id", "association.id"]),
        ForeignKeyConstraint(["tenant_id", "period_id"], ["grant_period.tenant_id", "grant_period.id"]),
        CheckConstraint("status IN ('draft', 'submitted', 'decided')", name="status"),
    )

    association_id: Mapped[int] = mapped_column(BigId)
    period_id: Mapped[int] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(String(10), default="draft")
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    submitted_by_user_id: Mapped[int | None] = mapped_column(BigId)
    #: The rule engine's amount when the application was submitted, in öre.
    expected_ore: Mapped[int | None] = mapped_column(BigId)


class Decision(TenantEntity, db.Model):
    """The officer's decision on an application (beslut)."""

    __tablename__ = "decision"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "application_id"], ["application.tenant_id", "application.id"]),
        ForeignKeyConstraint(["tenant_id", "rule_set_id"], ["rule_set.tenant_id", "rule_set.id"]),
        CheckConstraint("status IN ('approved', 'adjusted', 'rejected')", name="status"),
        CheckConstraint("amount_ore >= 0", name="amount_not_negative"),
    )

    application_id: Mapped[int] = mapped_column(BigId)
    rule_set_id: Mapped[int | None] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(String(10))
    amount_ore: Mapped[int] = mapped_column(BigId)
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by_user_id: Mapped[int | None] = mapped_column(BigId)
    decided_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DecisionLine(TenantScoped, db.Model):
    """One line item of a decision: a rule clause, its units and amount."""

    __tablename__ = "decision_line"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "decision_id"], ["decision.tenant_id", "decision.id"], ondelete="CASCADE"
        ),
    )

    decision_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    clause: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text)
    units: Mapped[int] = mapped_column(Integer, default=0)
    amount_ore: Mapped[int] = mapped_column(BigId)
