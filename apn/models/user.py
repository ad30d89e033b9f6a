"""Users and their role grants.

A user (an e-mail address that signs in) is a global identity, not tenant-owned, because one volunteer
may lead groups in associations of two municipalities. Everything a user may do comes from role grants,
which are tenant-owned and scoped to the tenant, an association or a group.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, ForeignKeyConstraint, Index, String
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
