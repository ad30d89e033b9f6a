"""Authorisation boundaries: unauthorised associations, withdrawn authorisations, other municipalities."""

from __future__ import annotations

from apn.extensions import db
from apn.services import partners as partner_svc
from apn.tenancy import tenant_scope
from apn.testing import factories as f

from .conftest import make_partner
from .gateway_helpers import put_group, session_body


def test_unauthorised_association_is_403_everywhere(client, partner):
    o = partner.other_orgnr
    h = partner.headers
    assert client.get(f"/api/v1/associations/{o}/groups", headers=h).status_code == 403
    assert client.put(f"/api/v1/associations/{o}/groups/1", json={"name": "x"}, headers=h).status_code == 403
    r = client.put(f"/api/v1/associations/{o}/people/p1",
                   json={"first_name": "A", "last_name": "B", "birth_date": "2010-01-01"}, headers=h)
    assert r.status_code == 403
    assert client.get(f"/api/v1/associations/{o}/expected-grant?period=2025H1", headers=h).status_code == 403
    r = client.put("/api/v1/sessions/X-1", json=session_body(orgnr=o), headers=h)
    assert r.status_code == 403


def test_another_municipalitys_data_is_indistinguishable_from_unknown(app, client, partner):
    other = make_partner(app, slug="kungsbacka", kommunkod="1384")
    # The other municipality's partner stores a session.
    put_group(client, other, "1")
    assert client.put("/api/v1/sessions/K-1", json=session_body(partner=other), headers=other.headers
                      ).status_code == 201
    unknown = f.make_orgnr(999_999)  # valid, registered nowhere
    for orgnr in (other.orgnr, unknown):
        r = client.get(f"/api/v1/associations/{orgnr}/groups", headers=partner.headers)
        assert r.status_code == 404
        assert r.get_json()["message"] == "no association with this organisation number in this municipality"
    assert client.get("/api/v1/sessions/K-1", headers=partner.headers).status_code == 404
    assert client.delete("/api/v1/sessions/K-1", headers=partner.headers).status_code == 404
    r = client.put("/api/v1/sessions/K-1", json=session_body(orgnr=other.orgnr), headers=partner.headers)
    assert r.status_code == 422 and "in this municipality" in r.get_json()["errors"]["json"]["organisationsnummer"][0]
    assert client.get("/api/v1/sessions", headers=partner.headers).get_json()["items"] == []
    assert client.get("/api/v1/sessions/K-1", headers=other.headers).status_code == 200


def test_withdrawn_authorisation_closes_reads_and_writes(app, client, partner):
    put_group(client, partner, "1")
    assert client.put("/api/v1/sessions/W-1", json=session_body(partner=partner), headers=partner.headers
                      ).status_code == 201
    with app.app_context(), tenant_scope(partner.tenant_id):
        partner_svc.withdraw(partner.client_id, partner.orgnr)
        db.session.commit()
    h = partner.headers
    assert client.get("/api/v1/associations", headers=h).get_json() == []
    assert client.get("/api/v1/sessions/W-1", headers=h).status_code == 403
    assert client.delete("/api/v1/sessions/W-1", headers=h).status_code == 403
    assert client.put("/api/v1/sessions/W-2", json=session_body(partner=partner), headers=h).status_code == 403
    assert client.get("/api/v1/sessions", headers=h).get_json()["items"] == []
    with app.app_context(), tenant_scope(partner.tenant_id):
        partner_svc.authorise(partner.client_id, partner.orgnr)
        db.session.commit()
    assert client.get("/api/v1/sessions/W-1", headers=h).status_code == 200


def test_a_second_partner_cannot_touch_the_firsts_cards_or_sessions(app, client, partner):
    put_group(client, partner, "1")
    assert client.put("/api/v1/sessions/P-1", json=session_body(partner=partner), headers=partner.headers
                      ).status_code == 201
    with app.app_context(), tenant_scope(partner.tenant_id):
        c2, _ = partner_svc.create_client("OtherSoft")
        partner_svc.authorise(c2.client_id, partner.orgnr)
        token, _ = partner_svc.issue_token(c2)
        db.session.commit()
    h2 = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/sessions/P-1", headers=h2).status_code == 404
    assert client.get(f"/api/v1/associations/{partner.orgnr}/groups", headers=h2).get_json() == []
    # Its own card 1 and session P-1 are separate from the first partner's.
    put_group(client, type(partner)(**{**partner.__dict__, "token": token}), "1")
    assert client.put("/api/v1/sessions/P-1", json=session_body(partner=partner), headers=h2).status_code == 201


def test_factory_tenant_without_partner_gets_nothing(app, client, partner):
    with app.app_context():
        f.create_tenant(slug="empty-town", kommunkod="0999")
        db.session.commit()
    assert client.get("/api/v1/associations", headers=partner.headers).status_code == 200
