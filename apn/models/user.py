"""Users, their role grants, pending invitations and failed sign-ins.

A user (an e-mail address that signs in) is a global identity, not tenant-owned, because one volunteer
may lead groups in associations of two municipalities. Everything a user may do comes from role grants,
which are tenant-owned and scoped to the tenant, an association or a group. An invitation is a grant that
waits for its addressee to accept it; failed sign-ins are counted in the database so every worker sees them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from apn.extensions import db
from apn.models.base import BigId, TenantEntity, UTCDateTime, utcnow

ROLES = ("tenant_admin", "grant_officer", "planner", "association_admin", "reporter")
TENANT_ROLES = ("tenant_admin", "grant_officer", "planner")


class User(db.Model):
    """Someone who signs in with an e-mail address (and later an e-ID)."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    #: argon2 hash; None for users who only sign in through an external identity provider.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str | None] = mapped_column(String(5))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Stored in the session at sign-in and compared on every request; signing out, a new password or a
    #: reset increments it, which ends every session of the user (the session cookie is client-side).
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return bool(self.active)

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class RoleGrant(TenantEntity, db.Model):
    """A role held by a user in a tenant, optionally limited to one association or one group."""

    __tablename__ = "role_grant"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "association_id"], ["association.tenant_id", "association.id"]),
        ForeignKeyConstraint(["tenant_id", "group_id"], ["activity_group.tenant_id", "activity_group.id"]),
        CheckConstraint(
            "role IN ('tenant_admin', 'grant_officer', 'planner', 'association_admin', 'reporter')",
            name="role",
        ),
        CheckConstraint(
            "(role IN ('tenant_admin', 'grant_officer', 'planner') AND association_id IS NULL AND group_id IS NULL)"
            " OR (role = 'association_admin' AND association_id IS NOT NULL AND group_id IS NULL)"
            " OR (role = 'reporter' AND association_id IS NOT NULL AND group_id IS NOT NULL)",
            name="scope",
        ),
        Index("ix_role_grant_user", "user_id"),
    )

    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("app_user.id"))
    role: Mapped[str] = mapped_column(String(20))
    association_id: Mapped[int | None] = mapped_column(BigId)
    group_id: Mapped[int | None] = mapped_column(BigId)
    granted_by_user_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LeaderInvitation(TenantEntity, db.Model):
    """Reporting rights offered to an e-mail address; granted only when its holder accepts the link.

    The typed name and address are what the inviter sees until then: nothing of an existing account shows.
    """

    __tablename__ = "leader_invitation"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "association_id"], ["association.tenant_id", "association.id"]),
        Index("ix_leader_invitation_association", "tenant_id", "association_id"),
    )

    association_id: Mapped[int] = mapped_column(BigId)
    email: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(120))
    #: Ids of the association's groups the leader may report for once the invitation is accepted.
    group_ids: Mapped[list[int]] = mapped_column(JSON)
    invited_by_user_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    accepted_by_user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("app_user.id"))


class LoginFailure(db.Model):
    """One failed sign-in, counted against a key (a hashed e-mail address or IP address) for a while."""

    __tablename__ = "login_failure"
    __table_args__ = (
        Index("ix_login_failure_key_at", "key", "at_ms"),
        Index("ix_login_failure_at", "at_ms"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: ``account:<sha256>`` or ``ip:<sha256>``
    key: Mapped[str] = mapped_column(String(80))
    #: Milliseconds since the epoch (plain integers compare the same on every database).
    at_ms: Mapped[int] = mapped_column(BigId)
