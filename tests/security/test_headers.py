"""Security headers on every response of every route (issue 11, item 11).

Each route of ``app.url_map`` with each of its methods is requested anonymously, as a signed-in user of each
role, and (for the API) with a partner token; every answer, whatever its status, carries the policy. Pages
and API answers are never stored by a cache. Over HTTPS (the ``HTTPS`` setting, on in production) cookies
are ``Secure`` and HSTS is sent. The templates hold no inline script, style or event handler, so the policy
needs no ``'unsafe-inline'``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from securityworld import ROLES, build_world, sign_in

from apn import create_app
from apn.web.headers import CSP

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: Endpoints that choose their own caching: static files and the service worker script (no personal data).
OWN_CACHING = {"static", "leader.service_worker"}
TEMPLATES = Path(__file__).resolve().parents[2] / "apn" / "web" / "templates"
_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
INLINE = [
    (re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")", re.I), "inline <script>"),
    (re.compile(r"<style\b", re.I), "<style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "on* event handler"),
    (re.compile(r"(href|src|action)\s*=\s*[\"']?\s*javascript:", re.I), "javascript: URL"),
]


@pytest.fixture
def world(app):
    with app.app_context():
        return build_world()


def _url(rule, world) -> str:
    return _ARG.sub(lambda m: str(world.args.get(m.group(1), 1)), rule.rule)


def _requests(app, world):
    for rule in app.url_map.iter_rules():
        for method in METHODS:
            if method in rule.methods:
                yield rule, method, _url(rule, world)


def _check(resp, rule, method, who) -> None:
    where = (who, method, rule.rule, resp.status_code)
    h = resp.headers
    assert h.get("Content-Security-Policy") == CSP, where
    assert "frame-ancestors 'none'" in CSP and "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP
    assert h.get("X-Content-Type-Options") == "nosniff", where
    assert h.get("X-Frame-Options") == "DENY", where
    assert h.get("Referrer-Policy") == "same-origin", where
    assert "Strict-Transport-Security" not in h, where  # plain HTTP, HTTPS setting off
    if rule.endpoint not in OWN_CACHING:
        assert "no-store" in h.get("Cache-Control", ""), where
    if resp.mimetype == "text/html":
        body = resp.get_data(as_text=True)
        for pattern, what in INLINE:
            assert not pattern.search(body), (where, what)
    resp.close()  # a static file's handle


def test_every_route_anonymous_and_as_each_role(app, world):
    seen = 0
    for role in ("anonymous", *ROLES, "every"):
        client = app.test_client()
        if role == "every":
            sign_in(client, world.all_roles_email)
        elif role != "anonymous":
            sign_in(client, world.emails[role])
        for rule, method, url in _requests(app, world):
            if rule.endpoint == "auth.logout":
                continue  # signs the client out; checked last
            headers = world.api_headers if url.startswith("/api/") else {}
            resp = client.open(url, method=method, headers=headers)
            _check(resp, rule, method, role)
            seen += 1
        logout = next(r for r in app.url_map.iter_rules() if r.endpoint == "auth.logout")
        _check(client.post("/logout"), logout, "POST", role)
    assert seen > 300


def test_error_answers_carry_the_headers(client, world):
    class _Rule:
        rule, endpoint = "(none)", "none"

    for method, url in (("GET", "/no/such/page"), ("GET", "/api/v1/no-such"), ("DELETE", "/login"),
                        ("GET", "/api/v1/sessions"), ("GET", "/k/no-such-town/leader/")):
        _check(client.open(url, method=method), _Rule, method, "anonymous")


def test_pages_with_personal_data_are_not_cached(client, world):
    """The roster (names) and the API's people: no-store, whatever else the view does."""
    sign_in(client, world.emails["association_admin"])
    r = client.get(f"/k/{world.slug}/associations/{world.args['association_id']}/groups/{world.args['group_id']}")
    assert r.status_code == 200 and "Alva" in r.get_data(as_text=True)
    assert r.headers["Cache-Control"] == "no-store"
    r = client.get("/api/v1/sessions", headers=world.api_headers)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"


def test_templates_have_no_inline_script_style_or_handlers():
    files = [p for p in TEMPLATES.rglob("*") if p.is_file()]
    assert len(files) > 10
    for path in files:
        text = path.read_text(encoding="utf-8")
        for pattern, what in INLINE:
            assert not pattern.search(text), (str(path), what)


def test_https_setting_makes_cookies_secure_and_sends_hsts(_app, world):
    """With ``HTTPS`` on (production) the session cookie is Secure and every answer carries HSTS."""
    keep = ("DATABASE_URL", "SQLALCHEMY_DATABASE_URI", "MIGRATE_DATABASE_URL", "DB_APP_ROLE", "SECRET_KEY",
            "PNR_HASH_KEY", "PNR_ENCRYPTION_KEY", "TESTING", "WTF_CSRF_ENABLED", "RATELIMIT_ENABLED")
    cfg = {k: _app.config[k] for k in keep if _app.config.get(k) is not None}
    secure = create_app({**cfg, "HTTPS": True})
    try:
        client = secure.test_client()
        resp = client.post("/login", data={"email": world.emails["reporter"], "password": "correct horse battery"},
                           base_url="https://localhost")
        assert resp.status_code == 302
        cookies = resp.headers.getlist("Set-Cookie")
        assert cookies and all("Secure" in c and "HttpOnly" in c for c in cookies), cookies
        for url in ("/", "/api/v1/sessions", "/static/app.css", "/no/such/page"):
            r = client.get(url, base_url="https://localhost")
            assert r.headers["Strict-Transport-Security"].startswith("max-age=31536000"), url
            r.close()
    finally:
        from apn.extensions import db

        with secure.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_request_over_https_gets_hsts_even_without_the_setting(client):
    r = client.get("/", base_url="https://localhost")
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Strict-Transport-Security" not in client.get("/").headers


def test_a_sign_in_over_https_gets_a_secure_session_cookie_even_without_the_setting(client, world):
    """An installation behind TLS that forgot ``APN_HTTPS`` still never sends its session cookie in clear."""
    login = {"email": world.emails["reporter"], "password": "correct horse battery"}
    over_https = client.post("/login", data=login, base_url="https://localhost")
    assert over_https.status_code == 302
    session_cookie = [c for c in over_https.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert session_cookie and "Secure" in session_cookie[0]
    client.post("/logout")
    over_http = client.post("/login", data=login)
    plain = [c for c in over_http.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert plain and "Secure" not in plain[0]


def test_production_setting_is_documented_and_off_by_default():
    from apn.config import DEFAULTS

    assert DEFAULTS["HTTPS"] is False
    ops = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text(encoding="utf-8")
    assert "APN_HTTPS" in ops
