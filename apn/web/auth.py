"""Signing in and out, password reset, invitations, and the signed-in user's start page.

Sign-in methods are *providers* (:class:`SignInProvider`). Each one proves who the visitor is in its own way
and ends in :func:`complete_sign_in`, which is the only place a session is started: the session stores the
user id and nothing else about the sign-in. The password form is the built-in provider; an e-ID provider
(an OpenID Connect broker for BankID or Freja) is added by registering a provider whose ``start`` redirects
to the broker and whose callback view maps the verified identity to a :class:`apn.models.User` and calls
:func:`complete_sign_in`. See docs/auth.md.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from apn.auth import start_session_of
from apn.errors import DomainError
from apn.extensions import db, login_manager
from apn.models import Association, Group, RoleGrant, Tenant
from apn.services import accounts
from apn.tenancy import system_scope, tenant_scope
from apn.web.access import forget_roles, login_required
from apn.web.forms import ActionForm, ForgotPasswordForm, LoginForm, SetPasswordForm, apply_domain_error

bp = Blueprint("auth", __name__)


# --- providers -------------------------------------------------------------------------------------------

class SignInProvider(Protocol):
    """A way to sign in. ``start_url`` is where the sign-in page sends the visitor for this provider."""

    key: str
    label: str

    def start_url(self) -> str:
        """Where the visitor goes to begin signing in with this provider."""
        ...


@dataclass
class PasswordProvider:
    """E-mail and password, checked with argon2 (the form on the sign-in page itself)."""

    key: str = "password"
    label: str = "E-mail and password"

    def start_url(self) -> str:
        """The sign-in page."""
        return url_for("auth.login")


def providers() -> dict[str, SignInProvider]:
    """The app's sign-in providers by key (the password provider is always there)."""
    ext: dict[str, Any] = current_app.extensions
    return ext.setdefault("apn_signin_providers", {"password": PasswordProvider()})


def register_provider(app, provider: SignInProvider) -> None:
    """Add a sign-in provider (e.g. an OIDC broker for BankID/Freja) to ``app``."""
    app.extensions.setdefault("apn_signin_providers", {"password": PasswordProvider()})[provider.key] = provider


def complete_sign_in(user, remember: bool = False, target: str | None = None):
    """Start a fresh session for ``user`` (any provider ends here) and go where the visitor was heading.

    The session holds the user id and the user's session generation; when that generation moves on
    (signing out anywhere, a new password) the session ends.
    """
    lang = session.get("lang")
    target = target or safe_next(request.args.get("next") or request.form.get("next"))
    session.clear()
    if lang:
        session["lang"] = lang
    login_user(user, remember=remember)
    start_session_of(user)
    return redirect(target or url_for("auth.me"))


_MAX_NEXT = 2000


def _unsafe_char(ch: str) -> bool:
    """Backslash (browsers read it as '/'), whitespace, control, format, separator, unassigned characters."""
    return ch == "\\" or ch.isspace() or unicodedata.category(ch)[0] in "CZ"


def safe_next(value: str | None) -> str | None:
    """``value`` when it is a path on this site, else None: the only targets followed after sign-in.

    Refused: anything with a scheme or a host, scheme-relative ``//host`` and ``/\\host``, backslashes,
    whitespace, control and invisible characters (tab, CR, LF, which browsers drop), an empty path segment
    (``//``), and each of these percent-encoded in the path once or more (``/%09/host``, ``/%2F%2Fhost``).
    """
    if not value or not isinstance(value, str) or len(value) > _MAX_NEXT:
        return None
    if any(_unsafe_char(ch) for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return None
    path, seen = parts.path, set()
    for _round in range(4):  # every decoding a browser or a later redirect could apply
        if not path.startswith("/") or "//" in path or any(_unsafe_char(ch) for ch in path):
            return None
        if path in seen:
            break
        seen.add(path)
        path = unquote(path)
    else:
        return None
    return value


def _client_ip() -> str:
    return request.remote_addr or "unknown"


# --- views ---------------------------------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with e-mail and password; repeated failures are throttled per address and IP."""
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("auth.me"))
    form = LoginForm()
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            status = 422
        else:
            throttle = accounts.login_throttle()
            email, ip = form.email.data, _client_ip()
            if throttle.blocked(email, ip):
                minutes = max(1, (throttle.retry_after_seconds(email, ip) + 59) // 60)
                form.form_errors.append(_("Too many failed attempts. Wait %(minutes)d minutes and try again, "
                                          "or reset your password.", minutes=minutes))
                status = 429
            else:
                user = accounts.authenticate(email, form.password.data)
                if user is None:
                    throttle.failed(email, ip)
                    form.form_errors.append(_("The e-mail address or the password is wrong."))
                    status = 401
                else:
                    throttle.succeeded(email, ip)
                    return complete_sign_in(user)
    others = [p for k, p in providers().items() if k != "password"]
    resp = current_app.make_response((render_template("auth/login.html", form=form, providers=others,
                                                      next=safe_next(request.args.get("next"))), status))
    if status == 429:
        resp.headers["Retry-After"] = str(accounts.login_throttle().retry_after_seconds(
            form.email.data, _client_ip()))
    return resp


@bp.post("/logout")
def logout():
    """Sign out (POST with CSRF token): this ends every session of the user, on every device."""
    form = ActionForm()
    if not form.validate_on_submit():
        return redirect(url_for("public.index"))
    lang = session.get("lang")
    if current_user.is_authenticated:
        accounts.end_sessions(current_user._get_current_object())
        db.session.commit()
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have signed out."), "success")
    return redirect(url_for("public.index"))


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    """Ask for a reset link; the answer is the same whether the address is known or not."""
    form = ForgotPasswordForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            return render_template("auth/forgot.html", form=form), 422
        found = accounts.password_reset_token(form.email.data)
        if found is not None:
            user, token = found
            link = url_for("auth.reset_password", token=token, _external=True)
            body = render_template("auth/mail_reset.txt", user=user, link=link)
            accounts.send_mail(user.email, _("Reset your password"), body)
        flash(_("If the address belongs to an account, a link to choose a new password has been sent to it. "
                "The link is valid for two hours."), "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot.html", form=form)


def _link_invalid(exc: DomainError):
    return render_template("auth/link_invalid.html", message=_(exc.message)), exc.status


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """Choose a new password with the link from the reset mail; every other session of the user ends."""
    try:
        user = accounts.read_token(token, "reset")
    except DomainError as exc:
        return _link_invalid(exc)
    form = SetPasswordForm()
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                accounts.set_password(user, form.password.data)
            except DomainError as exc:
                apply_domain_error(form, exc)
            else:
                db.session.commit()
                flash(_("Your password is saved."), "success")
                return complete_sign_in(user)
        return render_template("auth/set_password.html", form=form, user=user, purpose="reset"), 422
    return render_template("auth/set_password.html", form=form, user=user, purpose="reset")


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    """Accept an invitation to report for an association's groups.

    Without an account for the address, the visitor chooses a password, which makes the account. With an
    account, nothing happens until its holder, signed in as that account, accepts here.
    """
    try:
        tenant_id = accounts.invitation_tenant(token)
    except DomainError as exc:
        return _link_invalid(exc)
    with tenant_scope(tenant_id, db.session()):
        try:
            inv = accounts.read_invitation(token)
        except DomainError as exc:
            return _link_invalid(exc)
        association = Association.get_by_id(inv.association_id)
        groups = [grp.name for grp in accounts.invitation_groups(inv)]
        page = {"invitation": inv, "association": association.name if association else "", "groups": groups}
        account = accounts.user_by_email(inv.email)
        if account is None or (account.active and not account.password_hash):
            return _invitation_new_account(inv, account, page)
        if not account.active:
            return _link_invalid(DomainError("The link is not valid.", status=400))
        if not current_user.is_authenticated:
            login_link = url_for("auth.login", next=url_for("auth.accept_invitation", token=token))
            return render_template("auth/invitation.html", step="sign_in", login_link=login_link, **page)
        if current_user.id != account.id:
            return render_template("auth/invitation.html", step="other_account", **page), 403
        form = ActionForm()
        if request.method == "POST":
            if not form.validate_on_submit():
                return render_template("auth/invitation.html", step="accept", form=form, **page), 400
            try:
                accounts.accept_invitation(inv, account)
            except DomainError as exc:
                db.session.rollback()
                return _link_invalid(exc)
            db.session.commit()
            forget_roles()
            flash(_("You may now report for %(association)s.", association=page["association"]), "success")
            return redirect(url_for("auth.me"))
        return render_template("auth/invitation.html", step="accept", form=form, **page)


def _invitation_new_account(inv, account, page: dict[str, Any]):
    """The invited address has no account (or one that never got a password): choose a password."""
    form = SetPasswordForm()
    shown = account if account is not None else inv
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                if account is None:
                    account = accounts.create_user(inv.email, inv.name, form.password.data)
                else:
                    accounts.set_password(account, form.password.data)
                accounts.accept_invitation(inv, account)
            except IntegrityError:
                db.session.rollback()  # the address got an account meanwhile: the link now asks to sign in
                return redirect(request.path)
            except DomainError as exc:
                db.session.rollback()
                if exc.field != "password":
                    return _link_invalid(exc)
                apply_domain_error(form, exc)
            else:
                db.session.commit()
                flash(_("Your password is saved."), "success")
                return complete_sign_in(account, target=url_for("auth.me"))
        return render_template("auth/set_password.html", form=form, user=shown, purpose="invitation",
                               **page), 422
    return render_template("auth/set_password.html", form=form, user=shown, purpose="invitation", **page)


@bp.get("/me")
@login_required
def me():
    """The signed-in user's start page: every municipality, association and group they have a role in."""
    with system_scope(db.session()):
        rows = db.session.execute(
            select(RoleGrant, Tenant, Association, Group)
            .join(Tenant, Tenant.id == RoleGrant.tenant_id)
            .outerjoin(Association, (Association.tenant_id == RoleGrant.tenant_id)
                       & (Association.id == RoleGrant.association_id))
            .outerjoin(Group, (Group.tenant_id == RoleGrant.tenant_id) & (Group.id == RoleGrant.group_id))
            .where(RoleGrant.user_id == current_user.id)
            .order_by(Tenant.name, Association.name, Group.name)
        ).all()
        places: dict[int, dict[str, Any]] = {}
        for grant, tenant, assoc, group in rows:
            place = places.setdefault(tenant.id, {"tenant": tenant, "tenant_roles": [], "admin_of": [],
                                                  "groups": []})
            if grant.role == "association_admin" and assoc is not None:
                place["admin_of"].append(assoc)
            elif grant.role == "reporter" and group is not None and group.active:
                place["groups"].append((group, assoc))
            elif grant.role in ("tenant_admin", "grant_officer", "planner"):
                place["tenant_roles"].append(grant.role)
        # Read the names while the rows are visible (system scope), then render.
        view = [{"tenant": p["tenant"], "tenant_roles": p["tenant_roles"],
                 "admin_of": [(a.id, a.name) for a in p["admin_of"]],
                 "groups": [(g.id, g.name, a.name if a else "") for g, a in p["groups"]]}
                for p in places.values()]
    leader_endpoint = "leader.attendance" if "leader.attendance" in current_app.view_functions else None
    return render_template("auth/me.html", places=view, leader_endpoint=leader_endpoint)


# --- app-wide hooks ---------------------------------------------------------------------------------------

@bp.app_errorhandler(CSRFError)
def _csrf_error(exc: CSRFError):
    """A form sent without a valid CSRF token: 400 with a message that says what to do."""
    from apn.errors import error_response

    return error_response(400, _("The form could not be accepted because its security token is missing or "
                                 "has expired. Go back, reload the page and try again."))


def init_login(app) -> None:
    """Flask-Login settings: where anonymous visitors are sent and what they are told."""
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to see this page."
    login_manager.login_message_category = "info"
    login_manager.localize_callback = _
    login_manager.session_protection = "basic"
