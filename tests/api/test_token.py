"""The OAuth2 client-credentials flow: good and wrong credentials, expiry, rotation and revocation."""

from __future__ import annotations

from apn.extensions import db
from apn.services import partners as partner_svc
from apn.tenancy import tenant_scope

FORM = "application/x-www-form-urlencoded"


def token_request(client, client_id, secret, grant="client_credentials"):
    return client.post("/api/v1/auth/token", data={"grant_type": grant, "client_id": client_id,
                                                   "client_secret": secret}, content_type=FORM)


def test_token_flow_gives_a_working_bearer_token(client, partner):
    r = token_request(client, partner.client_id, partner.secret)
    assert r.status_code == 200
    body = r.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert r.headers["Cache-Control"] == "no-store"
    r = client.get("/api/v1/associations", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert r.status_code == 200
    assert r.get_json() == [{"organisationsnummer": partner.orgnr, "name": "IFK Test"}]


def test_http_basic_client_authentication_works_too(client, partner):
    r = client.post("/api/v1/auth/token", data={"grant_type": "client_credentials"}, content_type=FORM,
                    auth=(partner.client_id, partner.secret))
    assert r.status_code == 200 and r.get_json()["access_token"]


def test_wrong_secret_and_unknown_client_are_invalid_client(client, partner):
    for cid, secret in ((partner.client_id, "wrong"), ("apn_unknown", partner.secret)):
        r = token_request(client, cid, secret)
        assert r.status_code == 401
        body = r.get_json()
        assert body["error"] == "invalid_client" and body["code"] == 401 and body["message"]


def test_malformed_token_requests_are_400_with_oauth_codes(client, partner):
    r = token_request(client, partner.client_id, partner.secret, grant="password")
    assert r.status_code == 400 and r.get_json()["error"] == "unsupported_grant_type"
    r = client.post("/api/v1/auth/token", json={"grant_type": "client_credentials", "client_id": "x",
                                                "client_secret": "y"})
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_request"
    r = client.post("/api/v1/auth/token", data={"grant_type": "client_credentials"}, content_type=FORM)
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_request"


def test_missing_garbled_and_expired_tokens_are_401(app, client, partner):
    r = client.get("/api/v1/associations")
    assert r.status_code == 401 and "Bearer" in r.headers["WWW-Authenticate"]
    r = client.get("/api/v1/associations", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    assert r.get_json()["message"].startswith("the access token is invalid or expired")
    with app.app_context(), tenant_scope(partner.tenant_id):
        pc = partner_svc.get_client(partner.client_id)
        expired, _ = partner_svc.issue_token(pc, ttl=-1)
    r = client.get("/api/v1/associations", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401


def test_a_token_signed_with_another_key_is_refused(app, client, partner):
    from itsdangerous import URLSafeSerializer

    forged = URLSafeSerializer("another-key", salt="apn.partner-token.v1").dumps(
        {"t": partner.tenant_id, "c": partner.partner_id, "f": "x", "e": 9999999999})
    r = client.get("/api/v1/associations", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401


def test_revoked_client_loses_its_tokens_and_gets_no_new_ones(app, client, partner):
    assert client.get("/api/v1/associations", headers=partner.headers).status_code == 200
    with app.app_context(), tenant_scope(partner.tenant_id):
        partner_svc.revoke(partner.client_id)
        db.session.commit()
    r = client.get("/api/v1/associations", headers=partner.headers)
    assert r.status_code == 401 and "revoked" in r.get_json()["message"]
    assert token_request(client, partner.client_id, partner.secret).status_code == 401


def test_rotation_ends_old_secret_and_old_tokens(app, client, partner):
    with app.app_context(), tenant_scope(partner.tenant_id):
        _, new_secret = partner_svc.rotate_secret(partner.client_id)
        db.session.commit()
    assert client.get("/api/v1/associations", headers=partner.headers).status_code == 401
    assert token_request(client, partner.client_id, partner.secret).status_code == 401
    r = token_request(client, partner.client_id, new_secret)
    assert r.status_code == 200
    token = r.get_json()["access_token"]
    assert client.get("/api/v1/associations", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_secret_is_stored_only_as_an_argon2_hash(app, partner):
    from apn.models import PartnerClient

    with app.app_context(), tenant_scope(partner.tenant_id):
        row = db.session.get(PartnerClient, (partner.tenant_id, partner.partner_id))
        assert row.secret_hash.startswith("$argon2") and partner.secret not in row.secret_hash


def test_token_lifetime_follows_the_setting(app, client, partner, monkeypatch):
    monkeypatch.setitem(app.config, "API_TOKEN_TTL", 120)
    r = token_request(client, partner.client_id, partner.secret)
    assert r.status_code == 200 and r.get_json()["expires_in"] == 120
