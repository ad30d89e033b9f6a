"""Sign-in, throttling, sign-out, password reset, CSRF and the session cookie."""

from __future__ import annotations

from webhelpers import PASSWORD, link_in, outbox, sign_in

from apn.extensions import db


def test_sign_in_ok_goes_to_my_pages(world, client):
    resp = sign_in(client, "ADMIN@ik.se ")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/me")
    page = client.get("/me").get_data(as_text=True)
    assert "IK Test" in page and "Umeå kommun" in page
    assert "Logga ut" in page


def test_session_cookie_is_httponly_and_lax(world, client):
    resp = sign_in(client, world.admin_email)
    cookie = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_wrong_password_is_refused_with_a_message(world, client):
    resp = sign_in(client, world.admin_email, "not the password")
    assert resp.status_code == 401
    html = resp.get_data(as_text=True)
    assert 'role="alert"' in html
    assert "E-postadressen eller lösenordet är fel." in html
    assert client.get("/me").status_code == 302  # still anonymous


def test_empty_form_names_the_fields(world, client):
    resp = client.post("/login", data={"email": "", "password": ""})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'href="#email"' in html and 'aria-describedby="email-error"' in html
    assert 'id="password-error"' in html


def test_repeated_failures_are_throttled(app, world, client):
    for _ in range(5):
        assert sign_in(client, "admin@ik.se", "wrong password").status_code == 401
    resp = sign_in(client, "admin@ik.se", PASSWORD)  # even the right password waits
    assert resp.status_code == 429
    assert int(resp.headers["Retry-After"]) > 0
    assert "För många misslyckade försök" in resp.get_data(as_text=True)
    # another address from the same IP is not affected
    with app.app_context():
        from webhelpers import make_user

        from apn.models import Tenant

        make_user(db.session.get(Tenant, world.tenant_id), "other@ik.se")
        db.session.commit()
    assert sign_in(client, "other@ik.se").status_code == 302


def test_sign_out_needs_post_and_ends_the_session(world, client):
    sign_in(client, world.admin_email)
    assert client.get("/logout").status_code == 405
    resp = client.post("/logout")
    assert resp.status_code == 302
    assert client.get("/me").status_code == 302


def test_password_reset_flow(app, world, client):
    resp = client.post("/password/forgot", data={"email": "admin@ik.se"})
    assert resp.status_code == 302
    mail = outbox(app)[-1]
    assert mail["to"] == "admin@ik.se"
    path = link_in(mail["body"])
    assert client.get(path).status_code == 200
    bad = client.post(path, data={"password": "short", "confirm": "short"})
    assert bad.status_code == 422 and "10–200" in bad.get_data(as_text=True)
    ok = client.post(path, data={"password": "a brand new password", "confirm": "a brand new password"})
    assert ok.status_code == 302
    client.post("/logout")
    assert sign_in(client, "admin@ik.se", "a brand new password").status_code == 302
    # the link is single-use
    reused = client.get(path)
    assert reused.status_code == 400 and "använts" in reused.get_data(as_text=True)


def test_reset_for_unknown_address_says_the_same_and_sends_nothing(app, world, client):
    before = len(outbox(app))
    resp = client.post("/password/forgot", data={"email": "nobody@nowhere.se"}, follow_redirects=True)
    assert resp.status_code == 200 and "Om adressen hör till ett konto" in resp.get_data(as_text=True)
    assert len(outbox(app)) == before


def test_tampered_reset_link_is_refused(world, client):
    resp = client.get("/password/reset/not-a-real-token")
    assert resp.status_code == 400
    assert "Länken är inte giltig." in resp.get_data(as_text=True)


def test_english_interface(world, client):
    resp = client.post("/login?lang=en", data={"email": "admin@ik.se", "password": "nope nope nope"})
    assert "The e-mail address or the password is wrong." in resp.get_data(as_text=True)


def test_post_without_csrf_token_is_refused(app, world, client, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)  # the test config switches it off
    resp = client.post("/login", data={"email": "admin@ik.se", "password": PASSWORD})
    assert resp.status_code == 400
    assert "säkerhetstoken" in resp.get_data(as_text=True)
    # with the token from the form it goes through
    page = client.get("/login").get_data(as_text=True)
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    ok = client.post("/login", data={"email": "admin@ik.se", "password": PASSWORD, "csrf_token": token})
    assert ok.status_code == 302
    assert "IK Test" in client.get("/me").get_data(as_text=True)


def test_development_mail_on_the_console_never_carries_a_personal_number(app, capsys, monkeypatch):
    """Mail is shown on the console only in development (APN_DEBUG), and masked there."""
    from apn.services.accounts import send_mail

    monkeypatch.setitem(app.config, "DEBUG", True)
    with app.app_context():
        send_mail("a@ik.se", "Test", "Barn 201203041234 och 120304-1234.")
    out = capsys.readouterr().out
    assert "201203041234" not in out and "-1234" not in out
    assert "20120304-****" in out and "120304-****" in out
