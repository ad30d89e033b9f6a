"""The append-only audit log: who did or looked at what, when, with before and after."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from apn.extensions import db
from apn.models.base import BigId, TenantEntity, UTCDateTime, utcnow


class AuditEntry(TenantEntity, db.Model):
    """One recorded action. Rows are only ever inserted (on PostgreSQL the app role may not update or
    delete them)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "tenant_id", "entity", "entity_id"),)

    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_user_id: Mapped[int | None] = mapped_column(BigId)
    actor_client_id: Mapped[int | None] = mapped_column(BigId)
    #: e.g. ``session.create``, ``person.view``, ``clash.resolve``.
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(60))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
