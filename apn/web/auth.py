"""Signing in and out, password reset, invitations, and the signed-in user's start page.

Sign-in methods are *providers* (:class:`SignInProvider`). Each one proves who the visitor is in its own way
and ends in :func:`complete_sign_in`, which is the only place a session is started: the session stores the
user id and nothing else about the sign-in. The password form is the built-in provider; an e-ID provider
(an OpenID Connect broker for BankID or Freja) is added by registering a provider whose ``start`` redirects
to the broker and whose callback view maps the verified identity to a :class:`apn.models.User` and calls
:func:`complete_sign_in`. See docs/auth.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

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

from apn.errors import DomainError
from apn.extensions import db, login_manager
from apn.models import Association, Group, RoleGrant, Tenant
from apn.services import accounts
from apn.tenancy import system_scope
from apn.web.access import login_required
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


def complete_sign_in(user, remember: bool = False):
    """Start a fresh session for ``user`` (any provider ends here) and go where the visitor was heading."""
    lang = session.get("lang")
    target = _safe_next(request.args.get("next") or request.form.get("next"))
    session.clear()
    if lang:
        session["lang"] = lang
    login_user(user, remember=remember)
    return redirect(target or url_for("auth.me"))


def _safe_next(value: str | None) -> str | None:
    """Only same-site paths are followed after sign-in."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


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
                                                      next=_safe_next(request.args.get("next"))), status))
    if status == 429:
        resp.headers["Retry-After"] = str(accounts.login_throttle().retry_after_seconds(
            form.email.data, _client_ip()))
    return resp


@bp.post("/logout")
def logout():
    """Sign out (POST with CSRF token) and forget the session."""
    form = ActionForm()
    if not form.validate_on_submit():
        return redirect(url_for("public.index"))
    lang = session.get("lang")
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


def _set_password_page(token: str, purpose: str):
    """Shared by reset and invitation: check the token, show the form, set the password and sign in."""
    try:
        user = accounts.read_token(token, purpose)
    except DomainError as exc:
        return render_template("auth/link_invalid.html", message=_(exc.message)), exc.status
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
        return render_template("auth/set_password.html", form=form, user=user, purpose=purpose), 422
    return render_template("auth/set_password.html", form=form, user=user, purpose=purpose)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """Choose a new password with the link from the reset mail."""
    return _set_password_page(token, "reset")


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    """Accept an invitation: choose a password and sign in."""
    return _set_password_page(token, "invitation")


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
