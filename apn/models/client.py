"""Partner clients (club-administration systems) and what associations authorised them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from apn.extensions import db
from apn.models.base import BigId, TenantEntity, TenantScoped, UTCDateTime, utcnow


class PartnerClient(TenantEntity, db.Model):
    """A partner system's credentials in one tenant. The secret is stored only as an argon2 hash.

    ``client_id`` is random and unique in the installation in practice; the unique constraint includes the
    tenant as every constraint does, and the token endpoint looks the client up in system scope.
    """

    __tablename__ = "partner_client"
    __table_args__ = (UniqueConstraint("tenant_id", "client_id"),)

    name: Mapped[str] = mapped_column(String(120))
    client_id: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    rotated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class PartnerAuthorisation(TenantScoped, db.Model):
    """An association's permission for a partner to read and write its data."""

    __tablename__ = "partner_authorisation"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "partner_client_id"], ["partner_client.tenant_id", "partner_client.id"]
        ),
        ForeignKeyConstraint(["tenant_id", "association_id"], ["association.tenant_id", "association.id"]),
    )

    partner_client_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    association_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    authorised_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    authorised_by_user_id: Mapped[int | None] = mapped_column(BigId)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class PartnerPerson(TenantScoped, db.Model):
    """The partner's own id for a person (DAK register ``id``) mapped to our person."""

    __tablename__ = "partner_person"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "partner_client_id"], ["partner_client.tenant_id", "partner_client.id"]
        ),
        ForeignKeyConstraint(["tenant_id", "person_id"], ["person.tenant_id", "person.id"]),
    )

    partner_client_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(50), primary_key=True)
    person_id: Mapped[int] = mapped_column(BigId)
