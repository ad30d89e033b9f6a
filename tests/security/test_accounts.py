"""Accounts, sign-in and sessions (issue 11, items 5-10): invitations that must be accepted, no sign-in
links in logs, no open redirect after sign-in, sessions that end on sign-out and reset, throttling per
account and per IP shared by every worker, and the same hash work for unknown addresses."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from argon2 import PasswordHasher
from sqlalchemy import func, select

from apn import create_app
from apn.extensions import db
from apn.models import RoleGrant, User
from apn.models.user import LeaderInvitation, LoginFailure
from apn.services import accounts
from apn.tenancy import tenant_scope
from apn.testing import factories as f
from apn.testing.servers import gunicorn

PASSWORD = "correct horse battery"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Place:
    """Ids of the test world (plain values, usable outside the app context)."""

    tenant_id: int
    slug: str
    association_id: int
    group_ids: list[int]
    other_tenant_id: int
    other_association_id: int
    other_group_id: int


def _user(email: str, name: str | None = None, password: str | None = PASSWORD) -> User:
    return accounts.create_user(email, name or email.split("@")[0].title(), password)


@pytest.fixture
def place(app) -> Place:
    """Two municipalities; an association with two groups and its administrator in the first."""
    with app.app_context():
        t = f.create_tenant(slug="umea", name="Umeå kommun", kommunkod="2480")
        a = f.create_association(t, name="IK Test")
        g1 = f.create_group(t, a, name="P13 fotboll")
        g2 = f.create_group(t, a, name="F11 fotboll")
        admin = _user("admin@ik.se", "Ada Admin")
        with tenant_scope(t.id):
            accounts.grant_role(admin, "association_admin", association_id=a.id)
        t2 = f.create_tenant(slug="lulea", name="Luleå kommun", kommunkod="2580")
        a2 = f.create_association(t2, name="Other IF")
        g3 = f.create_group(t2, a2, name="Other group")
        with tenant_scope(t2.id):
            accounts.grant_role(admin, "association_admin", association_id=a2.id)
        db.session.commit()
        return Place(t.id, t.slug, a.id, [g1.id, g2.id], t2.id, a2.id, g3.id)


@pytest.fixture(autouse=True)
def _fresh_app_state(app):
    """No throttle object or outbox left from another test (failed sign-ins live in the emptied table)."""
    app.extensions.pop("apn_login_throttle", None)
    app.extensions.pop("apn_mail_outbox", None)
    yield
    app.extensions.pop("apn_login_throttle", None)


def sign_in(client, email: str, password: str = PASSWORD, ip: str = "127.0.0.1", **query):
    """Sign in through the form from ``ip``; returns the response."""
    return client.post("/login", data={"email": email, "password": password}, query_string=query or None,
                       environ_base={"REMOTE_ADDR": ip})


def outbox(app) -> list[dict]:
    """Mail sent while testing."""
    return app.extensions.setdefault("apn_mail_outbox", [])


def link_in(body: str) -> str:
    """The path of the first link in a mail body."""
    m = re.search(r"https?://[^/\s]+(/\S+)", body)
    assert m, body
    return m.group(1)


def signed_in(client) -> bool:
    """True when the client's session is a signed-in one."""
    return client.get("/me").status_code == 200


# --- 5: invitations give nothing away and grant only when accepted -------------------------------------------

def _leaders(place: Place) -> str:
    return f"/k/{place.slug}/associations/{place.association_id}/leaders"


def _invite(admin, place: Place, email: str, name: str = "Typed Name", group: int = 0):
    return admin.post(_leaders(place), data={"email": email, "name": name,
                                             "groups": [str(place.group_ids[group])]})


def _grants_of(app, email: str, tenant_id: int) -> list[RoleGrant]:
    with app.app_context(), tenant_scope(tenant_id):
        user = accounts.user_by_email(email)
        if user is None:
            return []
        return list(db.session.execute(select(RoleGrant).where(RoleGrant.user_id == user.id)).scalars())


def test_the_inviter_sees_the_same_for_a_new_and_an_existing_address(app, place):
    with app.app_context():
        _user("known@ik.se", "Karin Konto")
        db.session.commit()
    admin = app.test_client()
    assert sign_in(admin, "admin@ik.se").status_code == 302
    answers = []
    for email in ("known@ik.se", "brand.new@ik.se", "KNOWN@IK.SE "):
        resp = _invite(admin, place, email)
        page = admin.get(resp.headers["Location"]).get_data(as_text=True)
        norm = email.strip().lower()
        answers.append((resp.status_code, resp.headers["Location"],
                        re.sub(r"/leaders/invitations/\d+/", "/leaders/invitations/N/", page).replace(norm, "X")))
    assert answers[0][:2] == answers[1][:2] == answers[2][:2] == (302, _leaders(place))
    # the pages differ only in the listed invitations (one more each time), never by the kind of address
    first, second = answers[0][2], answers[1][2]
    assert first.count("Karin Konto") == 0 and second.count("Karin Konto") == 0
    assert "Typed Name" in first
    notice = re.search(r'class="flash[^"]*"[^>]*>(.*?)<', first, re.S)
    notice2 = re.search(r'class="flash[^"]*"[^>]*>(.*?)<', second, re.S)
    if notice and notice2:
        assert notice.group(1) == notice2.group(1)
    mails = outbox(app)[-3:]
    bodies = [re.sub(r"/invitation/\S+", "/invitation/T", m["body"]) for m in mails]
    assert bodies[0] == bodies[1] == bodies[2] and "/invitation/T" in bodies[0]
    assert len({m["subject"] for m in mails}) == 1
    # nothing granted to anyone yet; the existing account's holder has not said yes
    assert _grants_of(app, "known@ik.se", place.tenant_id) == []
    with app.app_context():
        assert accounts.user_by_email("brand.new@ik.se") is None  # no account made for an invitation


def test_an_existing_account_gets_the_rights_only_by_accepting_signed_in_as_itself(app, place):
    with app.app_context():
        _user("known@ik.se")
        _user("someone.else@ik.se")
        db.session.commit()
    admin = app.test_client()
    sign_in(admin, "admin@ik.se")
    _invite(admin, place, "known@ik.se", group=1)
    link = link_in(outbox(app)[-1]["body"])
    group_page = f"/k/{place.slug}/leader/groups/{place.group_ids[1]}"

    anonymous = app.test_client()
    page = anonymous.get(link)
    assert page.status_code == 200 and "/login?next=" in page.get_data(as_text=True)
    assert anonymous.post(link).status_code == 200  # shows the page again: no grant without signing in
    assert _grants_of(app, "known@ik.se", place.tenant_id) == []

    stranger = app.test_client()
    sign_in(stranger, "someone.else@ik.se")
    assert stranger.get(link).status_code == 403
    assert stranger.post(link).status_code == 403
    assert _grants_of(app, "known@ik.se", place.tenant_id) == []
    assert _grants_of(app, "someone.else@ik.se", place.tenant_id) == []

    holder = app.test_client()
    resp = sign_in(holder, "known@ik.se", next=link)
    assert resp.headers["Location"] == link  # back to the invitation after signing in
    assert holder.get(group_page).status_code == 403
    assert holder.get(link).status_code == 200
    assert holder.post(link).status_code == 302
    grants = _grants_of(app, "known@ik.se", place.tenant_id)
    assert [(g.role, g.group_id) for g in grants] == [("reporter", place.group_ids[1])]
    assert holder.get(group_page).status_code == 200
    assert holder.post(link).status_code == 400  # used once
    assert len(_grants_of(app, "known@ik.se", place.tenant_id)) == 1


def test_a_new_address_chooses_a_password_and_gets_the_rights(app, place):
    admin = app.test_client()
    sign_in(admin, "admin@ik.se")
    _invite(admin, place, "Nina@Example.se", "Nina Ny")
    link = link_in(outbox(app)[-1]["body"])
    leader = app.test_client()
    page = leader.get(link).get_data(as_text=True)
    assert "Nina Ny" in page and "P13 fotboll" in page
    assert leader.post(link, data={"password": "short", "confirm": "short"}).status_code == 422
    assert leader.post(link, data={"password": "ninas password!", "confirm": "ninas password!"}
                       ).status_code == 302
    assert signed_in(leader)
    assert [g.group_id for g in _grants_of(app, "nina@example.se", place.tenant_id)] == [place.group_ids[0]]
    assert leader.get(link).status_code == 400
    # the administrator's list now names the leader among the rights, not among the invitations
    listed = admin.get(_leaders(place)).get_data(as_text=True)
    assert "Nina Ny" in listed


def test_invitation_links_are_tied_to_their_municipality_and_can_be_withdrawn(app, place):
    admin = app.test_client()
    sign_in(admin, "admin@ik.se")
    _invite(admin, place, "first@ik.se")
    link = link_in(outbox(app)[-1]["body"])
    token = link.rsplit("/", 1)[1]
    assert app.test_client().get("/invitation/" + token[:-2] + "xx").status_code == 400  # tampered
    # the other municipality's association cannot list or withdraw it
    with app.app_context(), tenant_scope(place.tenant_id):
        inv_id = db.session.execute(select(LeaderInvitation.id)).scalar_one()
    other = f"/k/lulea/associations/{place.other_association_id}/leaders/invitations/{inv_id}/withdraw"
    assert admin.post(other).status_code == 404
    assert "first@ik.se" not in admin.get(f"/k/lulea/associations/{place.other_association_id}/leaders"
                                          ).get_data(as_text=True)
    assert admin.post(_leaders(place) + f"/invitations/{inv_id}/withdraw").status_code == 302
    assert app.test_client().get(link).status_code == 400
    # a group of another municipality cannot be offered
    resp = admin.post(_leaders(place), data={"email": "x@ik.se", "name": "X", "groups": [str(place.other_group_id)]})
    assert resp.status_code == 422


def test_concurrent_acceptance_grants_once(app, place):
    with app.app_context():
        _user("known@ik.se")
        db.session.commit()
    admin = app.test_client()
    sign_in(admin, "admin@ik.se")
    _invite(admin, place, "known@ik.se")
    with app.app_context(), tenant_scope(place.tenant_id):
        token = link_in(outbox(app)[-1]["body"]).rsplit("/", 1)[1]
        inv = accounts.read_invitation(token)
        user = accounts.user_by_email("known@ik.se")
        accounts.accept_invitation(inv, user)
        db.session.commit()
        with pytest.raises(accounts.DomainError):
            accounts.accept_invitation(inv, user)  # a stale copy of the same invitation is refused
        db.session.rollback()
    assert len(_grants_of(app, "known@ik.se", place.tenant_id)) == 1


# --- 6: no sign-in link in any log; development mail only with APN_DEBUG ---------------------------------------

def test_without_a_mail_server_no_link_is_logged_or_printed(app, place, caplog, capfd, monkeypatch):
    monkeypatch.setitem(app.config, "TESTING", False)  # the production path: no test outbox backend
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    monkeypatch.setitem(app.config, "DEBUG", False)
    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    assert client.post("/password/forgot", data={"email": "admin@ik.se"}).status_code == 302
    sign_in(client, "admin@ik.se")
    assert _invite(client, place, "new.one@ik.se").status_code == 302
    out = capfd.readouterr()
    for text in (caplog.text, out.out, out.err):
        assert "/password/reset/" not in text and "/invitation/" not in text
        assert "new.one@ik.se" not in text
    assert "MAIL_SERVER is unset" in caplog.text


def test_development_mail_goes_to_the_console_or_a_file_only_with_debug(app, place, capfd, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "TESTING", False)
    monkeypatch.setitem(app.config, "DEBUG", True)
    client = app.test_client()
    client.post("/password/forgot", data={"email": "admin@ik.se"})
    assert "/password/reset/" in capfd.readouterr().out
    monkeypatch.setitem(app.config, "MAIL_FILE_PATH", str(tmp_path))
    client.post("/password/forgot", data={"email": "admin@ik.se"})
    assert "/password/reset/" not in capfd.readouterr().out
    written = "".join(p.read_text() for p in tmp_path.iterdir())
    assert "/password/reset/" in written


def test_apn_debug_keeps_development_mail_when_flask_run_resets_debug(tmp_path, monkeypatch):
    """`make run` sets APN_DEBUG and starts `flask run`, whose command line sets ``app.debug`` from
    FLASK_DEBUG after the app is made: the mail must still go to the console, and without APN_DEBUG never."""
    from flask.cli import ScriptInfo

    monkeypatch.setenv("APN_DEBUG", "true")
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    info = ScriptInfo(create_app=lambda: create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}"}),
                      set_debug_flag=True)
    dev = info.load_app()
    assert dev.debug is False  # what `flask run` without --debug does
    assert accounts.mail_backend(dev.config) == "console"
    monkeypatch.delenv("APN_DEBUG")
    prod = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'y.sqlite'}"})
    assert accounts.mail_backend(prod.config) is None
    for made in (dev, prod):
        from apn.extensions import db

        with made.app_context():
            db.engine.dispose()


def test_mail_backend_choice():
    assert accounts.mail_backend({"MAIL_SERVER": "smtp.example.se"}) == "smtp"
    assert accounts.mail_backend({"MAIL_SERVER": "smtp.example.se", "DEBUG": True}) == "smtp"
    assert accounts.mail_backend({"DEBUG": True}) == "console"
    assert accounts.mail_backend({"DEBUG": True, "MAIL_FILE_PATH": "/tmp/x"}) == "file"
    assert accounts.mail_backend({}) is None
    assert accounts.mail_backend({}, testing=True) == "locmem"


# --- 7: no open redirect after sign-in ------------------------------------------------------------------------

BYPASSES = [
    "/\t/evil.example", "/%09/evil.example", "//evil.example", "///evil.example", "////evil.example",
    "/\\evil.example", "\\\\evil.example", "/\\/evil.example", "\\/evil.example", "https://evil.example",
    "http:evil.example", "http:/evil.example", "HTTPS://evil.example", "javascript:alert(1)",
    "data:text/html,x", " //evil.example", "\t//evil.example", "/\r\n/evil.example", "/\n/evil.example",
    "/%0d%0a/evil.example", "/%0a/evil.example", "/%2F/evil.example", "/%2f%2fevil.example",
    "%2F%2Fevil.example", "/%5Cevil.example", "/%5C%5Cevil.example", "/%252F%252Fevil.example",
    "/%25252F%25252Fevil.example", "/.//evil.example", "/x/..//evil.example", "/\u3000/evil.example",
    "/\u200b/evil.example", "/\u00a0/evil.example", "/\x00/evil.example", "/%00/evil.example",
    "/\x7f/evil.example", "//evil.example/%2F..", "/ /evil.example", "evil.example", "@evil.example",
    "/me\r\nSet-Cookie: x=1", "x" * 3000,
]


def _same_site(location: str) -> bool:
    parts = urlsplit(location)
    return (not parts.scheme and not parts.netloc and location.startswith("/") and not location.startswith("//")
            and "\\" not in location and not any(ord(c) < 0x21 or ord(c) == 0x7F for c in location))


def test_only_same_site_paths_are_accepted_as_next():
    from apn.web.auth import safe_next

    assert [t for t in BYPASSES if safe_next(t) is not None] == []


def test_sign_in_never_redirects_off_site(app, place):
    """Each bypass through the query and the form: to the start page, or a 400 from the input guard."""
    client = app.test_client()
    for n, target in enumerate(BYPASSES[:12] + BYPASSES[12::4]):  # every bypass is checked above, without HTTP
        if n % 3 == 0:
            resp = client.post("/login", data={"email": "admin@ik.se", "password": PASSWORD, "next": target})
        else:
            resp = sign_in(client, "admin@ik.se", next=target)
        assert resp.status_code in (302, 400), target
        if resp.status_code == 302:
            assert resp.headers["Location"] == "/me", (target, resp.headers["Location"])
            assert _same_site(resp.headers["Location"])
        client.post("/logout")
        page = client.get("/login", query_string={"next": target})
        assert page.status_code in (200, 400)
        assert "evil.example" not in page.get_data(as_text=True)


@pytest.mark.parametrize("target", ["/k/umea/associations/1/leaders", "/me?tab=2&x=%20y", "/invitation/a.b-c_d"])
def test_sign_in_follows_same_site_paths(app, place, target):
    resp = sign_in(app.test_client(), "admin@ik.se", next=target)
    assert resp.status_code == 302 and resp.headers["Location"] == target


# the same class through the Referer of the language switch: relative bypasses, and full URLs of other hosts
# or of this host with a bypass in their path (the test client's host is localhost)
REFERER_BYPASSES = [t for t in BYPASSES if "\r" not in t and "\n" not in t] + [  # no header carries CR/LF
    "https://evil.example/x", "http://evil.example/", "http://localhost.evil.example/", "http://localhost@evil.example/",
    "http://evil.example/http://localhost/", "http://localhost:8080@evil.example/", "//localhost@evil.example/",
    "http://localhost//evil.example", "http://localhost/\\evil.example", "http://localhost/%09/evil.example",
    "http://localhost/%2F%2Fevil.example", "https://localhost:444/x", "ftp://localhost/x", "http://localhost",
]


def test_the_language_switch_never_redirects_off_site(app, place):
    """Each bypass as the Referer of ``/lang/<code>``: the language changes, the redirect goes to ``/``."""
    client = app.test_client()
    for n, referer in enumerate(REFERER_BYPASSES):
        code = ("en", "sv")[n % 2]
        resp = client.get(f"/lang/{code}", headers={"Referer": referer})
        assert resp.status_code in (302, 400), referer
        if resp.status_code == 302:
            assert resp.headers["Location"] == "/", (referer, resp.headers["Location"])
            with client.session_transaction() as sess:
                assert sess["lang"] == code


@pytest.mark.parametrize(("referer", "location"), [
    (None, "/"), ("/k/umea/associations/1/leaders", "/k/umea/associations/1/leaders"),
    ("/me?tab=2&x=%20y", "/me?tab=2&x=%20y"), ("http://localhost/me?tab=2#top", "/me?tab=2"),
    ("http://LOCALHOST/k/umea/", "/k/umea/"), ("http://localhost/", "/"),
])
def test_the_language_switch_returns_to_the_same_site_page(app, place, referer, location):
    headers = {"Referer": referer} if referer else {}
    resp = app.test_client().get("/lang/en", headers=headers)
    assert resp.status_code == 302 and resp.headers["Location"] == location


def test_no_view_redirects_to_a_target_taken_from_the_request_unchecked():
    """Every ``redirect(`` in the web package goes to ``url_for``, to ``request.path`` or through safe_next."""
    allowed = re.compile(r"redirect\((url_for\(|request\.path\)|target or url_for\(|same_site_referrer\()")
    found = []
    for path in sorted((ROOT / "apn").rglob("*.py")):
        text = path.read_text()
        found += [(path.name, text[m.start():m.start() + 40]) for m in re.finditer(r"\bredirect\(", text)
                  if not allowed.match(text, m.start())]
    assert found == []


# --- 8: a session ends everywhere on sign-out, password change and reset --------------------------------------

def _copy_session(app, source):
    """A second client holding a copy of ``source``'s session cookie (as a thief would)."""
    cookie = source.get_cookie("session")
    assert cookie is not None
    twin = app.test_client()
    twin.set_cookie("session", cookie.value)
    return twin


def test_sign_out_ends_the_copied_session(app, place):
    client = app.test_client()
    sign_in(client, "admin@ik.se")
    copy = _copy_session(app, client)
    assert signed_in(copy)
    assert client.post("/logout").status_code == 302
    assert not signed_in(copy)
    assert not signed_in(client)
    # the old cookie stays useless after the user signs in again elsewhere
    fresh = app.test_client()
    sign_in(fresh, "admin@ik.se")
    assert signed_in(fresh) and not signed_in(copy)


def test_sign_out_on_one_device_ends_the_others(app, place):
    phone, laptop = app.test_client(), app.test_client()
    sign_in(phone, "admin@ik.se")
    sign_in(laptop, "admin@ik.se")
    laptop.post("/logout")
    assert not signed_in(phone)


def test_password_reset_ends_every_session(app, place):
    client = app.test_client()
    sign_in(client, "admin@ik.se")
    copy = _copy_session(app, client)
    other = app.test_client()
    other.post("/password/forgot", data={"email": "admin@ik.se"})
    link = link_in(outbox(app)[-1]["body"])
    assert other.post(link, data={"password": "a brand new password", "confirm": "a brand new password"}
                      ).status_code == 302
    assert signed_in(other)  # the one who reset is signed in with a new session
    assert not signed_in(copy) and not signed_in(client)


def test_password_change_ends_every_session(app, place):
    client = app.test_client()
    sign_in(client, "admin@ik.se")
    copy = _copy_session(app, client)
    with app.app_context():
        accounts.set_password(accounts.user_by_email("admin@ik.se"), "another long password")
        db.session.commit()
    assert not signed_in(copy) and not signed_in(client)
    assert sign_in(app.test_client(), "admin@ik.se", "another long password").status_code == 302


def test_a_deactivated_account_is_signed_out(app, place):
    client = app.test_client()
    sign_in(client, "admin@ik.se")
    with app.app_context():
        accounts.user_by_email("admin@ik.se").active = False
        db.session.commit()
    assert not signed_in(client)


# --- 9: throttling per account and per IP, shared by every worker ---------------------------------------------

# (addresses of the 30 attempts, an address of the same client, an address of another client)
ONE_CLIENT = {
    "ipv4": (["203.0.113.7"] * 30, "203.0.113.7", "198.51.100.1"),
    # one IPv6 /64 (what one household or one host gets): every address in it is one client
    "ipv6-64": ([f"2001:db8::{n + 1:x}" for n in range(30)], "2001:DB8:0:0:ffff:ffff:ffff:ffff",
                "2001:db8:0:1::1"),
    "ipv6-64-spellings": ([("2001:db8:0:0:0:0:0:%x", "2001:0db8::%X", "2001:db8::1:0:0:%x")[n % 3] % (n + 1)
                           for n in range(30)], "2001:db8::abcd:1", "2001:db9::1"),
    # an IPv4 client seen through an IPv6 socket is the same IPv4 client
    "ipv4-mapped": ([("203.0.113.7", "::ffff:203.0.113.7", "::FFFF:cb00:7107")[n % 3] for n in range(30)],
                    "::ffff:203.0.113.7", "203.0.113.8"),
}


@pytest.mark.parametrize("variant", list(ONE_CLIENT))
def test_wrong_passwords_over_many_accounts_from_one_ip_are_throttled(app, place, variant):
    addresses, same_client, other_client = ONE_CLIENT[variant]
    with app.app_context():
        for n in range(6):
            _user(f"user{n}@ik.se")
        db.session.commit()
    client = app.test_client()
    codes = [sign_in(client, f"user{n % 6}@ik.se", "wrong password", ip=ip).status_code
             for n, ip in enumerate(addresses)]
    assert codes[:20] == [401] * 20
    assert codes[20:] == [429] * 10
    # even the right password waits at this client; from another client the account (4 failures) signs in
    assert sign_in(client, "user0@ik.se", ip=same_client).status_code == 429
    assert sign_in(app.test_client(), "user0@ik.se", ip=other_client).status_code == 302


def test_the_ip_count_keys_ipv6_by_its_64_prefix():
    """IPv4 per address, IPv6 per /64, IPv4-mapped IPv6 as IPv4; anything unparseable as it came."""
    key = accounts.throttle_ip_key
    assert key("203.0.113.7") == "203.0.113.7" != key("203.0.113.8")
    assert key("::ffff:203.0.113.7") == key("::FFFF:cb00:7107") == "203.0.113.7"
    assert key("2001:db8::1") == key("2001:DB8:0000::ffff:1:2:3") == key("2001:db8::1%eth0") == "2001:db8::/64"
    assert key("2001:db8:0:1::1") == "2001:db8:0:1::/64" != key("2001:db8::1")
    assert key("fe80::1%eth0") == "fe80::/64"
    assert key("unknown") == "unknown" and key("") == "" and key("not an address") == "not an address"


def test_wrong_passwords_for_one_account_from_many_ips_are_throttled(app, place):
    client = app.test_client()
    codes = [sign_in(client, "admin@ik.se", "wrong password", ip=f"198.51.100.{n}").status_code for n in range(8)]
    assert codes == [401] * 5 + [429] * 3
    resp = sign_in(client, "admin@ik.se", ip="192.0.2.99")
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    # an unknown address is counted the same way: throttling does not tell accounts apart
    codes = [sign_in(client, "nobody@ik.se", "wrong password", ip=f"192.0.2.{n}").status_code for n in range(7)]
    assert codes == [401] * 5 + [429] * 2


def test_failures_are_shared_between_app_instances(app, place, base_config):
    """Two apps on one database (as two worker processes are) see the same failed sign-ins."""
    second = create_app({**base_config, "DATABASE_URL": app.config["DATABASE_URL"],
                         "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]})
    try:
        clients = [app.test_client(), second.test_client()]
        codes = [sign_in(clients[n % 2], "admin@ik.se", "wrong password").status_code for n in range(7)]
        assert codes == [401] * 5 + [429] * 2
    finally:
        with second.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_successful_sign_in_clears_the_account_count_only(app, place):
    client = app.test_client()
    for _ in range(4):
        assert sign_in(client, "admin@ik.se", "wrong password", ip="192.0.2.1").status_code == 401
    assert sign_in(client, "admin@ik.se", ip="192.0.2.1").status_code == 302
    with app.app_context():
        keys = db.session.execute(select(LoginFailure.key, func.count()).group_by(LoginFailure.key)).all()
    assert [(k.split(":")[0], n) for k, n in keys] == [("ip", 4)]


def test_a_forged_forwarded_for_does_not_escape_the_ip_count(app, place, monkeypatch):
    """Without trusted proxies X-Forwarded-For is ignored; with one, each client behind it counts alone."""
    monkeypatch.setitem(app.config, "LOGIN_THROTTLE_IP", "3 per 15 minutes")
    client = app.test_client()
    codes = [client.post("/login", data={"email": f"u{n}@ik.se", "password": "wrong password"},
                         headers={"X-Forwarded-For": f"192.0.2.{n}"}).status_code for n in range(4)]
    assert codes == [401, 401, 401, 429]


def test_behind_a_trusted_proxy_clients_are_counted_apart(app, place, base_config):
    proxied = create_app({**base_config, "DATABASE_URL": app.config["DATABASE_URL"],
                          "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                          "TRUSTED_PROXIES": 1, "LOGIN_THROTTLE_IP": "3 per 15 minutes"})
    try:
        client = proxied.test_client()

        def attempt(n: int, forwarded: str) -> int:
            return client.post("/login", data={"email": f"u{n}@ik.se", "password": "wrong password"},
                               headers={"X-Forwarded-For": forwarded}).status_code

        assert [attempt(n, "203.0.113.5") for n in range(4)] == [401, 401, 401, 429]
        assert attempt(9, "203.0.113.6") == 401  # another client behind the same proxy
    finally:
        with proxied.app_context():
            db.session.remove()
            db.engine.dispose()


def test_the_limits_backend_counts_per_account_and_per_ip():
    """With shared rate-limit storage (Redis in production; memory here) the same two rules apply."""
    throttle = accounts.LoginThrottle("2 per minute", "3 per minute", "memory://")
    assert throttle.limiter is None  # memory:// is per process: the database is used instead
    throttle = accounts.LoginThrottle("2 per minute", "3 per minute", "memory://")
    from limits.storage import MemoryStorage
    from limits.strategies import MovingWindowRateLimiter

    throttle.limiter = MovingWindowRateLimiter(MemoryStorage())
    throttle.failed("a@ik.se", "1.1.1.1")
    throttle.failed("a@ik.se", "2.2.2.2")
    assert throttle.blocked("a@ik.se", "3.3.3.3") and not throttle.blocked("b@ik.se", "3.3.3.3")
    throttle.failed("b@ik.se", "1.1.1.1")
    throttle.failed("d@ik.se", "1.1.1.1")
    assert throttle.blocked("c@ik.se", "1.1.1.1") and throttle.retry_after_seconds("c@ik.se", "1.1.1.1") > 0


def _post_login(url: str, email: str, password: str) -> int:
    """One sign-in on new connections (so any worker may answer each request); the status of the POST."""
    with requests.Session() as http:
        http.headers["Connection"] = "close"
        page = http.get(url + "/login", timeout=30)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        resp = http.post(url + "/login", data={"email": email, "password": password, "csrf_token": token},
                         allow_redirects=False, timeout=30)
        return resp.status_code


def test_five_tries_per_account_hold_across_gunicorn_workers(app, place):
    """Three gunicorn workers on the suite's database (PostgreSQL in its PostgreSQL run): the sixth try
    of an account is refused whichever worker answers, and so is the right password until the wait ends."""
    cfg = {key: app.config[key] for key in ("DATABASE_URL", "SECRET_KEY", "PNR_HASH_KEY", "PNR_ENCRYPTION_KEY")}
    with gunicorn(cfg, 3, args=("--timeout", "60", "--log-level", "warning"), probe="/login",
                  start_timeout=60) as (url, _master):
        codes = [_post_login(url, "admin@ik.se", "wrong password") for _ in range(10)]
        assert codes == [401] * 5 + [429] * 5
        assert _post_login(url, "admin@ik.se", PASSWORD) == 429
        # one IP (127.0.0.1) over many accounts: 20 failures in all, whichever worker counts them
        codes = [_post_login(url, f"user{n}@ik.se", "wrong password") for n in range(16)]
        assert codes == [401] * 15 + [429]


# --- 10: the same hash work whether or not the account exists -------------------------------------------------

@pytest.fixture
def verifications(monkeypatch) -> list[str]:
    """Counts argon2 verifications: a spy that calls the real ``PasswordHasher.verify``."""
    calls: list[str] = []
    real = PasswordHasher.verify

    def spy(self, hash, password):  # noqa: A002 - the library's parameter name
        calls.append(hash)
        return real(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", spy)
    return calls


def test_unknown_and_known_addresses_cost_one_argon2_verification_each(app, place, verifications):
    with app.app_context():
        _user("nopassword@ik.se", password=None)  # invited, never chose a password
        inactive = _user("inactive@ik.se")
        inactive.active = False
        db.session.commit()
    client = app.test_client()
    counts = {}
    for email in ("admin@ik.se", "nobody@nowhere.se", "nopassword@ik.se", "inactive@ik.se"):
        before = len(verifications)
        assert sign_in(client, email, "wrong password", ip=email).status_code == 401
        counts[email] = len(verifications) - before
    assert counts == {"admin@ik.se": 1, "nobody@nowhere.se": 1, "nopassword@ik.se": 1, "inactive@ik.se": 1}
    # the dummy hash is a real argon2 hash with the same parameters as a stored one
    with app.app_context():
        stored = accounts.user_by_email("admin@ik.se").password_hash
    dummy = verifications[1]
    assert dummy.startswith("$argon2id$") and dummy.split("$")[3] == stored.split("$")[3]
