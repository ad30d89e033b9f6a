"""Public pages: the start page and the API documentation page."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from flask import Blueprint, current_app, redirect, render_template, request, session
from sqlalchemy import select

from apn.extensions import db
from apn.models import Tenant
from apn.web.auth import safe_next

bp = Blueprint("public", __name__)


@bp.get("/")
def index():
    """Start page: the municipalities and where to go next."""
    tenants = db.session.execute(select(Tenant).order_by(Tenant.name)).scalars().all()
    return render_template("index.html", tenants=tenants)


@bp.get("/api/v1/docs")
def api_docs():
    """A readable page for the OpenAPI document, rendered by the app itself (no CDN)."""
    from apn.extensions import api

    return render_template("api_docs.html", spec=api.spec.to_dict())


def same_site_referrer() -> str:
    """The page the visitor came from when it is on this site, else ``/``.

    A full URL counts only when its host is this request's host (any port or user part makes it another
    host); only its path and query are kept. Either way the path must pass :func:`safe_next`, which refuses
    ``//host``, backslashes, control characters and their percent-encodings.
    """
    referrer = request.referrer
    if not referrer:
        return "/"
    try:
        parts = urlsplit(referrer)
    except ValueError:
        return "/"
    if parts.scheme or parts.netloc:
        if parts.scheme.lower() not in ("http", "https") or parts.netloc.lower() != request.host.lower():
            return "/"
        referrer = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    return safe_next(referrer) or "/"


@bp.get("/lang/<code>")
def set_language(code: str):
    """Switch the interface language (sv/en) and go back to the page of this site the visitor came from."""
    if code in current_app.config["LOCALES"]:
        session["lang"] = code
    return redirect(same_site_referrer())


@bp.get("/healthz")
def healthz():
    """Liveness: the app answers and reaches its database."""
    db.session.execute(select(1))
    return {"status": "ok"}
