"""The municipal administrator's partner page: list, create (secret shown once), rotate, revoke."""

from __future__ import annotations

import re

from webhelpers import make_user, sign_in

from apn.extensions import db
from apn.models import Tenant
from apn.services import partners
from apn.tenancy import tenant_scope


def _secret(html: str) -> tuple[str, str]:
    cid = re.search(r'id="new-client-id">([^<]+)<', html).group(1)
    secret = re.search(r'id="new-client-secret">([^<]+)<', html).group(1)
    return cid, secret


def test_tenant_admin_manages_partner_clients(app, world, client):
    with app.app_context():
        make_user(db.session.get(Tenant, world.tenant_id), "it@umea.se", "tenant_admin")
        db.session.commit()
    sign_in(client, "it@umea.se")
    url = f"/k/{world.slug}/admin/partners"
    assert "Inget partnersystem är registrerat ännu." in client.get(url).get_data(as_text=True)

    bad = client.post(url, data={"name": ""})
    assert bad.status_code == 422 and 'id="name-error"' in bad.get_data(as_text=True)

    created = client.post(url, data={"name": "SportAdmin"})
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    client_id, secret = _secret(created.get_data(as_text=True))
    with app.app_context():
        assert partners.authenticate(client_id, secret) is not None
    listing = client.get(url).get_data(as_text=True)
    assert client_id in listing and secret not in listing  # shown once only

    rotated = client.post(f"{url}/{client_id}/rotate")
    assert rotated.status_code == 200
    same_id, new_secret = _secret(rotated.get_data(as_text=True))
    assert same_id == client_id and new_secret != secret
    with app.app_context():
        assert partners.authenticate(client_id, secret) is None
        assert partners.authenticate(client_id, new_secret) is not None

    assert client.post(f"{url}/{client_id}/revoke").status_code == 302
    assert "spärrad" in client.get(url).get_data(as_text=True)
    with app.app_context():
        assert partners.authenticate(client_id, new_secret) is None
    assert client.post(f"{url}/apn_nope/revoke").status_code == 404


def test_partner_page_needs_the_tenant_admin_role_of_that_tenant(app, world, client):
    with app.app_context():
        make_user(db.session.get(Tenant, world.other_tenant_id), "it@lulea.se", "tenant_admin")
        with tenant_scope(world.other_tenant_id):
            partners.create_client("Their system")
        db.session.commit()
    sign_in(client, "it@lulea.se")
    assert client.get(f"/k/{world.slug}/admin/partners").status_code == 403
    assert "Their system" in client.get(f"/k/{world.other_slug}/admin/partners").get_data(as_text=True)
    client.post("/logout")
    sign_in(client, world.admin_email)  # an association admin is not a municipal admin
    assert client.get(f"/k/{world.slug}/admin/partners").status_code == 403
