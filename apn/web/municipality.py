"""The municipal administrator's pages: partner systems (club-administration software) accepted by the
municipality: list, register (the secret is shown once), rotate the secret, revoke.

Pages live under ``/k/<tenant_slug>/admin/`` and need the role ``tenant_admin`` in that municipality.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from apn.errors import DomainError
from apn.extensions import db
from apn.services import partners as partner_service
from apn.web.access import install_tenant_routing, role_required
from apn.web.forms import ActionForm, PartnerClientForm, apply_domain_error

bp = Blueprint("municipality", __name__, url_prefix="/k/<tenant_slug>/admin")
install_tenant_routing(bp)


def _partners_page(form: PartnerClientForm | None = None, status: int = 200, secret: dict | None = None):
    """The list of partner clients, the form to register one, and a just-created secret (shown once)."""
    clients = [partner_service.describe(c) for c in partner_service.list_clients()]
    resp = current_app.make_response((render_template(
        "municipality/partners.html", clients=clients, form=form or PartnerClientForm(), action_form=ActionForm(),
        secret=secret), status))
    if secret is not None:
        resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/partners")
@role_required("tenant_admin")
def partners():
    """Partner systems of the municipality."""
    return _partners_page()


@bp.post("/partners")
@role_required("tenant_admin")
def partner_create():
    """Register a partner system; its secret is shown on this response only."""
    form = PartnerClientForm()
    if not form.validate_on_submit():
        return _partners_page(form, 422)
    try:
        client, secret = partner_service.create_client(form.name.data)
    except DomainError as exc:
        db.session.rollback()
        apply_domain_error(form, exc)
        return _partners_page(form, 422)
    db.session.commit()
    return _partners_page(PartnerClientForm(formdata=None), 201,
                          secret={"name": client.name, "client_id": client.client_id, "client_secret": secret})


@bp.post("/partners/<client_id>/rotate")
@role_required("tenant_admin")
def partner_rotate(client_id: str):
    """Give a partner system a new secret (shown once); the old one stops working at once."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        client, secret = partner_service.rotate_secret(client_id)
    except DomainError as exc:
        db.session.rollback()
        abort(exc.status, description=_(exc.message))
    db.session.commit()
    return _partners_page(secret={"name": client.name, "client_id": client.client_id, "client_secret": secret})


@bp.post("/partners/<client_id>/revoke")
@role_required("tenant_admin")
def partner_revoke(client_id: str):
    """Revoke a partner system: its tokens stop working and it can no longer report."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        client = partner_service.revoke(client_id)
    except DomainError as exc:
        db.session.rollback()
        abort(exc.status, description=_(exc.message))
    db.session.commit()
    flash(_("%(name)s is revoked.", name=client.name), "success")
    return redirect(url_for("municipality.partners"))
