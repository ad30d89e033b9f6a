"""Accounts: users, passwords, role grants, invitations, password reset, login throttling and e-mail.

Functions take plain arguments, flush and leave the commit to the caller. Messages of :class:`DomainError`
are English message ids; the web layer translates them with Flask-Babel.

Tokens are signed with the app's ``SECRET_KEY`` (itsdangerous) and expire. A reset token is single-use: it
carries a fingerprint of the user's password hash, so setting a password invalidates every earlier token of
that user. An invitation token names a stored :class:`LeaderInvitation`, which is used once: the rights it
offers are granted only when the holder of the address accepts it (see :func:`accept_invitation`).

Sessions end centrally: :func:`end_sessions` increments the user's session generation (signing out, a new
password, a reset), and the user loader refuses every session that carries an older one.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from apn.auth import hash_password, verify_password
from apn.errors import Conflict, DomainError, NotFound
from apn.extensions import db
from apn.models import Association, Group, RoleGrant, User
from apn.models.base import utcnow
from apn.models.user import ROLES, TENANT_ROLES, LeaderInvitation, LoginFailure
from apn.services.locking import lock_parent
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
    values = {"email": address, "name": clean_name[:120], "active": active,
              "password_hash": hash_password(check_password_rules(password)) if password is not None else None}
    # INSERT … ON CONFLICT DO NOTHING: when a concurrent request stored the address first, nothing is stored
    # and the caller hears Conflict, as when the address was taken before (never a broken unique key).
    dialect = pg_dialect if db.session.connection().dialect.name == "postgresql" else sqlite_dialect
    user_id = db.session.execute(dialect.insert(User).values(**values)
                                 .on_conflict_do_nothing(index_elements=["email"]).returning(User.id)).scalar()
    if user_id is None:
        raise Conflict("A user with this e-mail address exists already.", field="email")
    return db.session.get(User, user_id)


def set_password(user: User, password: str) -> None:
    """Set a new password (checked against the rules), activate the account and end all its sessions."""
    user.password_hash = hash_password(check_password_rules(password))
    user.active = True
    db.session.flush()
    end_sessions(user)


def end_sessions(user: User) -> None:
    """End every session of ``user`` (on every device): the next request of each is signed out."""
    db.session.execute(update(User).where(User.id == user.id)
                       .values(session_generation=User.session_generation + 1))
    db.session.flush()
    db.session.refresh(user, ["session_generation"])


def authenticate(email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None (the same answer for every kind of miss).

    Every miss costs one argon2 verification like a hit does: an unknown address, an inactive account or
    one without a password is checked against a dummy hash, so timing does not tell whether it exists.
    """
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


def _load(token: str, purpose: str) -> dict[str, int | str]:
    """The payload of a valid token; :class:`DomainError` (400) when it is wrong or expired."""
    max_age = INVITATION_MAX_AGE if purpose == "invitation" else RESET_MAX_AGE
    try:
        data = _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise DomainError("The link has expired. Ask for a new one.", field="token", status=400) from exc
    except BadSignature as exc:
        raise DomainError("The link is not valid.", field="token", status=400) from exc
    if not isinstance(data, dict):
        raise DomainError("The link is not valid.", field="token", status=400)
    return data


def read_token(token: str, purpose: str) -> User:
    """The user a valid token belongs to; :class:`DomainError` (400) when it is wrong, used or expired."""
    data = _load(token, purpose)
    user = db.session.get(User, int(data.get("u", 0)))
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
    lock_parent(User.id, user.id)  # two grants of one role at once (two accepted links): one row
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
    """What :func:`invite_leader` did: the stored invitation, the groups it offers and its link token."""

    invitation: LeaderInvitation
    groups: list[Group]
    token: str


def invite_leader(association: Association, email: str, name: str, group_ids: list[int],
                  invited_by: User | None = None) -> Invitation:
    """Offer a leader reporting rights for ``group_ids`` of ``association``.

    Nothing is granted and no account is made or looked up here: the same happens for every address, so
    the inviter learns nothing about accounts. The rights apply when the holder of the address accepts the
    link (:func:`accept_invitation`).
    """
    address = normalise_email(email)
    clean_name = (name or "").strip()
    if not clean_name:
        raise DomainError("Enter a name.", field="name")
    if not group_ids:
        raise DomainError("Choose at least one group.", field="groups")
    wanted = list(dict.fromkeys(int(gid) for gid in group_ids))
    groups = {g.id: g for g in db.session.execute(
        select(Group).where(Group.association_id == association.id, Group.id.in_(wanted))).scalars()}
    if any(gid not in groups for gid in wanted):
        raise NotFound("The group was not found.", field="groups")
    invitation = LeaderInvitation(tenant_id=association.tenant_id, association_id=association.id, email=address,
                                  name=clean_name[:120], group_ids=wanted,
                                  invited_by_user_id=invited_by.id if invited_by is not None else None)
    db.session.add(invitation)
    db.session.flush()
    token = _serializer("invitation").dumps({"t": invitation.tenant_id, "i": invitation.id})
    return Invitation(invitation, [groups[gid] for gid in wanted], token)


def pending_invitations(association_id: int) -> list[LeaderInvitation]:
    """The association's invitations that are not accepted yet, newest first."""
    return list(db.session.execute(
        select(LeaderInvitation).where(LeaderInvitation.association_id == association_id,
                                       LeaderInvitation.accepted_at.is_(None))
        .order_by(LeaderInvitation.created_at.desc(), LeaderInvitation.id.desc())).scalars())


def withdraw_invitation(association_id: int, invitation_id: int) -> None:
    """Withdraw a pending invitation of the association; its link stops working."""
    inv = LeaderInvitation.get_by_id(invitation_id)
    if inv is None or inv.association_id != association_id or inv.accepted_at is not None:
        raise NotFound("The invitation was not found.", field="invitation_id")
    db.session.delete(inv)
    db.session.flush()


def read_invitation(token: str) -> LeaderInvitation:
    """The pending invitation a link names (its tenant is bound by the caller from ``token_tenant``).

    :class:`DomainError` (400) when the link is wrong, expired, withdrawn or used already.
    """
    data = _load(token, "invitation")
    inv = db.session.get(LeaderInvitation, (require_tenant_id(), int(data["i"])))
    if inv is None or inv.accepted_at is not None:
        raise DomainError("The link has been used already or is no longer valid.", field="token", status=400)
    return inv


def invitation_tenant(token: str) -> int:
    """The tenant an invitation link belongs to; :class:`DomainError` (400) when the link is not valid."""
    return int(_load(token, "invitation")["t"])


def invitation_groups(inv: LeaderInvitation) -> list[Group]:
    """The groups an invitation still offers (active groups of its association)."""
    return list(db.session.execute(
        select(Group).where(Group.association_id == inv.association_id, Group.id.in_(inv.group_ids or []),
                            Group.active.is_(True)).order_by(Group.name)).scalars())


def accept_invitation(inv: LeaderInvitation, user: User) -> list[RoleGrant]:
    """Grant what ``inv`` offers to ``user``, whose address it was sent to; the invitation is used up.

    :class:`DomainError` (403) when ``user`` is another account than the invited address, (400) when the
    invitation was accepted meanwhile (two tabs, two clicks).
    """
    if normalise_email(user.email) != inv.email:
        raise DomainError("This invitation was sent to another e-mail address.", field="token", status=403)
    used = db.session.execute(
        update(LeaderInvitation)
        .where(LeaderInvitation.tenant_id == inv.tenant_id, LeaderInvitation.id == inv.id,
               LeaderInvitation.accepted_at.is_(None))
        .values(accepted_at=utcnow(), accepted_by_user_id=user.id)
        .execution_options(synchronize_session=False))
    if used.rowcount != 1:
        raise DomainError("The link has been used already or is no longer valid.", field="token", status=400)
    inviter = db.session.get(User, inv.invited_by_user_id) if inv.invited_by_user_id else None
    return [grant_role(user, "reporter", association_id=inv.association_id, group_id=grp.id, granted_by=inviter)
            for grp in invitation_groups(inv)]


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


def mail_backend(cfg: dict[str, Any], testing: bool = False) -> str | None:
    """The Flask-Mailman backend for this app's mail, or None when mail cannot be delivered.

    ``MAIL_BACKEND`` when set; SMTP when ``MAIL_SERVER`` is set; in development (``APN_DEBUG``) a file
    under ``MAIL_FILE_PATH`` or the console; in tests memory. Otherwise nothing: mail carries sign-in
    links, so it is never written to a log or to standard output in production.
    """
    if cfg.get("MAIL_BACKEND"):
        return str(cfg["MAIL_BACKEND"])
    if cfg.get("MAIL_SERVER"):
        return "smtp"
    if cfg.get("DEBUG") or cfg.get("DEVELOPMENT"):
        return "file" if cfg.get("MAIL_FILE_PATH") else "console"
    if testing:
        return "locmem"
    return None


def send_mail(to: str, subject: str, body: str) -> None:
    """Send one plain-text mail with Flask-Mailman (see :func:`mail_backend` for where it goes).

    While testing, mail is also kept in ``app.extensions['apn_mail_outbox']``. Without a way to deliver
    it, only the fact is logged: never the body, which may hold a sign-in link.
    """
    from flask_mailman import EmailMessage

    cfg = current_app.config
    if current_app.testing:
        current_app.extensions.setdefault("apn_mail_outbox", []).append(
            {"to": to, "subject": subject, "body": body})
    backend = mail_backend(cfg, current_app.testing)
    if backend is None:
        mail_logger.warning("A mail was not sent: MAIL_SERVER is unset (set APN_DEBUG to see mail in "
                            "development)")
        return
    if backend in ("console", "file"):
        body = mask_personal_numbers(body)  # development output: no personal numbers on screen or disk
    message = EmailMessage(subject=subject, body=body, from_email=cfg.get("MAIL_FROM") or "apn@localhost",
                           to=[to])
    options = {"file_path": str(cfg["MAIL_FILE_PATH"])} if backend == "file" else {}
    current_app.extensions["mailman"].get_connection(backend=backend, **options).send_messages([message])
    logger.info("Mail sent: %s", subject)


# --- throttling of failed sign-ins ------------------------------------------------------------------

def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def throttle_ip_key(ip: str) -> str:
    """The client an IP address stands for: an IPv4 address itself, an IPv6 address its /64 (one host or
    household gets a whole /64, so counting single IPv6 addresses would let it try 2^64 times), an
    IPv4-mapped IPv6 address (``::ffff:a.b.c.d``) its IPv4 address; anything unparseable as it came."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))  # the zone (%eth0) is dropped
    return str(address)


def _throttle_keys(email: str, ip: str) -> tuple[str, str]:
    """The account key (the normalised address, known or not) and the IP key (per client, see
    :func:`throttle_ip_key`), hashed."""
    return (f"account:{_digest((email or '').strip().lower())}",
            f"ip:{_digest(throttle_ip_key(ip or 'unknown'))}")


class LoginThrottle:
    """Failed sign-ins per e-mail address (``LOGIN_THROTTLE``, default 5 per 15 minutes) and, separately, per
    client address (``LOGIN_THROTTLE_IP``, default 20 per 15 minutes; IPv4 per address, IPv6 per /64), in a
    moving window.

    The counts live where every worker process sees them: in the database (table ``login_failure``), or in
    the rate limiter's shared storage when ``RATELIMIT_STORAGE_URI`` names one (Redis, Memcached). An
    address is counted whether or not it has an account, so throttling says nothing about accounts.
    """

    def __init__(self, account_rule: str, ip_rule: str, storage_uri: str | None = None) -> None:
        """Counters for the two rules; ``storage_uri`` None or ``memory://`` means the database."""
        from limits import parse

        self.account_item = parse(account_rule)
        self.ip_item = parse(ip_rule)
        self.limiter = None
        if storage_uri and not storage_uri.startswith("memory://"):
            from limits.storage import storage_from_string
            from limits.strategies import MovingWindowRateLimiter

            self.limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))

    def _rules(self, email: str, ip: str):
        account, ip_key = _throttle_keys(email, ip)
        return ((account, self.account_item), (ip_key, self.ip_item))

    # -- the database backend: one row per failure and key, read by every worker ------------------------------

    @staticmethod
    def _now_ms() -> int:
        return int(time.time() * 1000)

    @staticmethod
    def _window_ms(item) -> int:
        return int(item.get_expiry()) * 1000

    def _db_wait_ms(self, conn, key: str, item, now: int) -> int:
        """Milliseconds until ``key`` has a failure left (0 when it has one now)."""
        window = self._window_ms(item)
        stamps = conn.execute(
            select(LoginFailure.at_ms).where(LoginFailure.key == key, LoginFailure.at_ms > now - window)
            .order_by(LoginFailure.at_ms.desc()).limit(item.amount)).scalars().all()
        if len(stamps) < item.amount:
            return 0
        return max(1, stamps[-1] + window - now)

    def retry_after_seconds(self, email: str, ip: str) -> int:
        """Seconds until the next attempt is allowed (0 when not blocked)."""
        if self.limiter is not None:
            waits = []
            for key, item in self._rules(email, ip):
                reset, remaining = self.limiter.get_window_stats(item, "login-failed", key)
                waits.append(0 if remaining > 0 else max(1, int(reset - time.time())))
            return max(waits)
        now = self._now_ms()
        with db.engine.connect() as conn:
            wait = max(self._db_wait_ms(conn, key, item, now) for key, item in self._rules(email, ip))
        return (wait + 999) // 1000

    def blocked(self, email: str, ip: str) -> bool:
        """True when this address or this IP address has used up its failed attempts."""
        if self.limiter is not None:
            return any(not self.limiter.test(item, "login-failed", key) for key, item in self._rules(email, ip))
        return self.retry_after_seconds(email, ip) > 0

    def failed(self, email: str, ip: str) -> None:
        """Record one failed attempt against the address and against the IP address."""
        if self.limiter is not None:
            for key, item in self._rules(email, ip):
                self.limiter.hit(item, "login-failed", key)
            return
        now = self._now_ms()
        oldest = now - max(self._window_ms(self.account_item), self._window_ms(self.ip_item))
        with db.engine.begin() as conn:
            conn.execute(insert(LoginFailure), [{"key": key, "at_ms": now} for key, _ in self._rules(email, ip)])
            conn.execute(delete(LoginFailure).where(LoginFailure.at_ms < oldest))

    def succeeded(self, email: str, ip: str) -> None:
        """Forget the address's failures after a successful sign-in (the IP address's count stays)."""
        account_key, account_item = self._rules(email, ip)[0]
        if self.limiter is not None:
            self.limiter.clear(account_item, "login-failed", account_key)
            return
        with db.engine.begin() as conn:
            conn.execute(delete(LoginFailure).where(LoginFailure.key == account_key))


def login_throttle() -> LoginThrottle:
    """The app's :class:`LoginThrottle` (created on first use)."""
    ext: dict[str, Any] = current_app.extensions
    if "apn_login_throttle" not in ext:
        cfg = current_app.config
        ext["apn_login_throttle"] = LoginThrottle(cfg.get("LOGIN_THROTTLE") or "5 per 15 minutes",
                                                  cfg.get("LOGIN_THROTTLE_IP") or "20 per 15 minutes",
                                                  cfg.get("RATELIMIT_STORAGE_URI"))
    return ext["apn_login_throttle"]
