"""Accounts: users, passwords, role grants, invitations, password reset, login throttling and e-mail.

Functions take plain arguments, flush and leave the commit to the caller. Messages of :class:`DomainError`
are English message ids; the web layer translates them with Flask-Babel.

Tokens (invitation, password reset) are signed with the app's ``SECRET_KEY`` (itsdangerous), expire, and
are single-use: they carry a fingerprint of the user's password hash, so setting a password invalidates
every earlier token of that user.
"""

from __future__ import annotations

import hashlib
import logging
import re
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select

from apn.auth import hash_password, verify_password
from apn.errors import Conflict, DomainError, NotFound
from apn.extensions import db
from apn.models import Association, Group, RoleGrant, User
from apn.models.user import ROLES, TENANT_ROLES
from apn.tenancy import require_tenant_id

logger = logging.getLogger(__name__)
mail_logger = logging.getLogger("apn.mail")

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10
MAX_PASSWORD = 200
RESET_MAX_AGE = 2 * 3600
INVITATION_MAX_AGE = 14 * 24 * 3600
#: Anything that looks like a personal identity number is masked in mail that is logged.
_PNR_LIKE = re.compile(r"\b(\d{6}|\d{8})[-+]?\d{4}\b")


# --- users and passwords ------------------------------------------------------------------------------------

def normalise_email(email: str | None) -> str:
    """Lower-cased, trimmed e-mail address; :class:`DomainError` when it does not look like one."""
    value = (email or "").strip().lower()
    if not value:
        raise DomainError("Enter an e-mail address.", field="email")
    if len(value) > 200 or not EMAIL_RE.match(value):
        raise DomainError("Enter an e-mail address like name@example.se.", field="email")
    return value


def user_by_email(email: str) -> User | None:
    """The user with this e-mail address (case-insensitive), or None."""
    try:
        value = normalise_email(email)
    except DomainError:
        return None
    return db.session.execute(select(User).where(func.lower(User.email) == value)).scalar_one_or_none()


def check_password_rules(password: str | None) -> str:
    """The password if it is acceptable, else :class:`DomainError` on field ``password``."""
    value = password or ""
    if len(value) < MIN_PASSWORD:
        raise DomainError("The password must be at least 10 characters long.", field="password")
    if len(value) > MAX_PASSWORD:
        raise DomainError("The password may be at most 200 characters long.", field="password")
    if not value.strip():
        raise DomainError("The password may not be only spaces.", field="password")
    return value


def create_user(email: str, name: str, password: str | None = None, active: bool = True) -> User:
    """A new user; :class:`Conflict` when the e-mail address is taken."""
    address = normalise_email(email)
    if user_by_email(address) is not None:
        raise Conflict("A user with this e-mail address exists already.", field="email")
    clean_name = (name or "").strip()
    if not clean_name:
        raise DomainError("Enter a name.", field="name")
    user = User(email=address, name=clean_name[:120], active=active,
                password_hash=hash_password(check_password_rules(password)) if password is not None else None)
    db.session.add(user)
    db.session.flush()
    return user


def set_password(user: User, password: str) -> None:
    """Set a new password (checked against the rules) and activate the account."""
    user.password_hash = hash_password(check_password_rules(password))
    user.active = True
    db.session.flush()


def authenticate(email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None (the same answer for every kind of miss)."""
    user = user_by_email(email)
    if user is None or not user.active:
        verify_password(None, password or "")
        return None
    return user if verify_password(user.password_hash, password or "") else None


# --- signed tokens ------------------------------------------------------------------------------------------

def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"apn-{purpose}")


def _fingerprint(user: User) -> str:
    return hashlib.sha256((user.password_hash or "none").encode()).hexdigest()[:16]


def make_token(user: User, purpose: str) -> str:
    """A signed token for ``purpose`` (``reset`` or ``invitation``) that dies when the password changes."""
    return _serializer(purpose).dumps({"u": user.id, "f": _fingerprint(user)})


def read_token(token: str, purpose: str) -> User:
    """The user a valid token belongs to; :class:`DomainError` (400) when it is wrong, used or expired."""
    max_age = INVITATION_MAX_AGE if purpose == "invitation" else RESET_MAX_AGE
    try:
        data = _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise DomainError("The link has expired. Ask for a new one.", field="token", status=400) from exc
    except BadSignature as exc:
        raise DomainError("The link is not valid.", field="token", status=400) from exc
    user = db.session.get(User, int(data.get("u", 0))) if isinstance(data, dict) else None
    if user is None or data.get("f") != _fingerprint(user):
        raise DomainError("The link has been used already or is no longer valid.", field="token", status=400)
    return user


# --- role grants ----------------------------------------------------------------------------------------

def grant_role(user: User, role: str, *, association_id: int | None = None, group_id: int | None = None,
               granted_by: User | None = None) -> RoleGrant:
    """Give ``user`` a role in the bound tenant (idempotent: an equal grant is returned as it is)."""
    tenant_id = require_tenant_id()
    if role not in ROLES:
        raise DomainError("Unknown role.", field="role")
    if role in TENANT_ROLES and (association_id or group_id):
        raise DomainError("A municipal role is not limited to an association.", field="role")
    if role == "association_admin" and (association_id is None or group_id is not None):
        raise DomainError("An association administrator needs an association.", field="association_id")
    if role == "reporter":
        if group_id is None:
            raise DomainError("Choose a group.", field="group_id")
        group = Group.get_by_id(group_id)
        if group is None or (association_id is not None and group.association_id != association_id):
            raise NotFound("The group was not found.", field="group_id")
        association_id = group.association_id
    if association_id is not None and Association.get_by_id(association_id) is None:
        raise NotFound("The association was not found.", field="association_id")
    existing = db.session.execute(select(RoleGrant).where(
        RoleGrant.user_id == user.id, RoleGrant.role == role,
        RoleGrant.association_id.is_(None) if association_id is None else RoleGrant.association_id == association_id,
        RoleGrant.group_id.is_(None) if group_id is None else RoleGrant.group_id == group_id,
    )).scalars().first()
    if existing is not None:
        return existing
    grant = RoleGrant(tenant_id=tenant_id, user_id=user.id, role=role, association_id=association_id,
                      group_id=group_id, granted_by_user_id=granted_by.id if granted_by else None)
    db.session.add(grant)
    db.session.flush()
    return grant


def reporter_grants(association_id: int) -> list[tuple[RoleGrant, User, Group]]:
    """The reporting rights of an association: grant, user and group, ordered by user and group name."""
    rows = db.session.execute(
        select(RoleGrant, User, Group)
        .join(User, User.id == RoleGrant.user_id)
        .join(Group, (Group.tenant_id == RoleGrant.tenant_id) & (Group.id == RoleGrant.group_id))
        .where(RoleGrant.role == "reporter", RoleGrant.association_id == association_id)
        .order_by(User.name, User.email, Group.name)
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def withdraw_reporter(association_id: int, grant_id: int) -> RoleGrant:
    """Withdraw one reporting right of the association; takes effect on the leader's next request."""
    grant = RoleGrant.get_by_id(grant_id)
    if grant is None or grant.role != "reporter" or grant.association_id != association_id:
        raise NotFound("The reporting right was not found.", field="grant_id")
    db.session.delete(grant)
    db.session.flush()
    return grant


# --- invitations and password reset --------------------------------------------------------------------

@dataclass
class Invitation:
    """What :func:`invite_leader` did: the user, whether the account is new, the rights granted."""

    user: User
    new_account: bool
    grants: list[RoleGrant]
    token: str | None


def invite_leader(association: Association, email: str, name: str, group_ids: list[int],
                  invited_by: User | None = None) -> Invitation:
    """Give a leader reporting rights for ``group_ids`` of ``association``, creating the account if needed.

    A new account (or one that never set a password) gets an invitation token to choose a password.
    """
    address = normalise_email(email)
    if not group_ids:
        raise DomainError("Choose at least one group.", field="groups")
    groups = {g.id: g for g in db.session.execute(
        select(Group).where(Group.association_id == association.id, Group.id.in_(group_ids))).scalars()}
    missing = [gid for gid in group_ids if gid not in groups]
    if missing:
        raise NotFound("The group was not found.", field="groups")
    user = user_by_email(address)
    new_account = user is None
    if user is None:
        user = create_user(address, name or address.split("@")[0])
    grants = [grant_role(user, "reporter", association_id=association.id, group_id=gid, granted_by=invited_by)
              for gid in group_ids]
    token = make_token(user, "invitation") if not user.password_hash else None
    return Invitation(user, new_account, grants, token)


def password_reset_token(email: str) -> tuple[User, str] | None:
    """The user and a reset token for an active account with this address, or None (say nothing more)."""
    user = user_by_email(email)
    if user is None or not user.active:
        return None
    return user, make_token(user, "reset")


# --- e-mail ---------------------------------------------------------------------------------------------------

def mask_personal_numbers(text: str) -> str:
    """Replace anything that looks like a personal identity number by its birth-date part and ``-****``."""
    return _PNR_LIKE.sub(lambda m: f"{m.group(1)}-****", text)


def send_mail(to: str, subject: str, body: str) -> None:
    """Send one plain-text mail over SMTP (``MAIL_SERVER`` …); without a server, write it to the log.

    While testing, mail is also kept in ``app.extensions['apn_mail_outbox']``.
    """
    cfg = current_app.config
    if current_app.testing:
        current_app.extensions.setdefault("apn_mail_outbox", []).append(
            {"to": to, "subject": subject, "body": body})
    if not cfg.get("MAIL_SERVER"):
        mail_logger.info("Mail (not sent, MAIL_SERVER is unset) to %s: %s\n%s", to, subject,
                         mask_personal_numbers(body))
        if not current_app.testing:
            print(f"--- mail to {to}: {subject}\n{mask_personal_numbers(body)}\n---", flush=True)
        return
    msg = EmailMessage()
    msg["From"] = cfg.get("MAIL_FROM") or "apn@localhost"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    with smtplib.SMTP(cfg["MAIL_SERVER"], int(cfg.get("MAIL_PORT") or 25), timeout=20) as smtp:
        if cfg.get("MAIL_USE_TLS"):
            smtp.starttls()
        if cfg.get("MAIL_USERNAME"):
            smtp.login(cfg["MAIL_USERNAME"], cfg.get("MAIL_PASSWORD") or "")
        smtp.send_message(msg)
    logger.info("Mail sent to %s: %s", to, subject)


# --- throttling of failed sign-ins ------------------------------------------------------------------

class LoginThrottle:
    """Counts failed sign-ins per e-mail address and IP address in a moving window (``LOGIN_THROTTLE``,
    default 5 per 15 minutes), in the rate limiter's storage (``RATELIMIT_STORAGE_URI``: memory for one
    process, Redis or Memcached when several processes serve the app). Nothing is written to the database.
    """

    def __init__(self, storage_uri: str, rule: str) -> None:
        """Build the counter on a ``limits`` storage."""
        from limits import parse
        from limits.storage import storage_from_string
        from limits.strategies import MovingWindowRateLimiter

        self.item = parse(rule)
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))

    @staticmethod
    def _keys(email: str, ip: str) -> tuple[str, str]:
        return ("login-failed", hashlib.sha256(f"{(email or '').strip().lower()}|{ip}".encode()).hexdigest())

    def blocked(self, email: str, ip: str) -> bool:
        """True when this address and IP have used up their failed attempts."""
        return not self.limiter.test(self.item, *self._keys(email, ip))

    def failed(self, email: str, ip: str) -> None:
        """Record one failed attempt."""
        self.limiter.hit(self.item, *self._keys(email, ip))

    def retry_after_seconds(self, email: str, ip: str) -> int:
        """Seconds until the next attempt is allowed (0 when not blocked)."""
        import time

        reset, remaining = self.limiter.get_window_stats(self.item, *self._keys(email, ip))
        return 0 if remaining > 0 else max(1, int(reset - time.time()))

    def succeeded(self, email: str, ip: str) -> None:
        """Forget the failures after a successful sign-in."""
        self.limiter.clear(self.item, *self._keys(email, ip))


def login_throttle() -> LoginThrottle:
    """The app's :class:`LoginThrottle` (created on first use)."""
    ext: dict[str, Any] = current_app.extensions
    if "apn_login_throttle" not in ext:
        ext["apn_login_throttle"] = LoginThrottle(current_app.config.get("RATELIMIT_STORAGE_URI") or "memory://",
                                                  current_app.config.get("LOGIN_THROTTLE") or "5 per 15 minutes")
    return ext["apn_login_throttle"]
