"""Public pages: the start page and the API documentation page."""

from __future__ import annotations

from flask import Blueprint, render_template, session
from sqlalchemy import select

from apn.extensions import db
from apn.models import Tenant

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


@bp.get("/lang/<code>")
def set_language(code: str):
    """Switch the interface language (sv/en)."""
    from flask import current_app, redirect, request

    if code in current_app.config["LOCALES"]:
        session["lang"] = code
    target = request.referrer or "/"
    if not target.startswith(request.host_url) and not target.startswith("/"):
        target = "/"
    return redirect(target)


@bp.get("/healthz")
def healthz():
    """Liveness: the app answers and reaches its database."""
    db.session.execute(select(1))
    return {"status": "ok"}
