"""Idempotency keys: the first response to a key is kept and replayed for repeats."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from apn.extensions import db
from apn.models.base import TenantScoped, UTCDateTime, utcnow


class IdempotencyKey(TenantScoped, db.Model):
    """A request seen with an ``Idempotency-Key``: who sent it, a hash of its body, the first response."""

    __tablename__ = "idempotency_key"

    #: ``partner:<id>`` or ``user:<id>``: keys are per caller.
    actor: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(300))
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
