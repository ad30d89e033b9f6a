"""The per-client rate limit, on an app of its own with a tiny limit: 429 with Retry-After."""

from __future__ import annotations

import pytest
from sqlalchemy.pool import NullPool

from apn import create_app
from apn.extensions import db, limiter

from .conftest import make_partner

_SHARED = ("DATABASE_URL", "SQLALCHEMY_DATABASE_URI", "MIGRATE_DATABASE_URL", "DB_APP_ROLE", "SECRET_KEY",
           "PNR_HASH_KEY", "PNR_ENCRYPTION_KEY")


@pytest.fixture
def limited_app(app):
    """A second app on the same database with the limiter on and 3 requests a minute per client."""
    was_enabled = limiter.enabled
    cfg = {k: app.config[k] for k in _SHARED if app.config.get(k) is not None}
    # NullPool: the second app keeps no connection open after a request.
    limited = create_app({**cfg, "TESTING": True, "RATELIMIT_ENABLED": True, "API_RATE_LIMIT": "3 per minute",
                          "RATELIMIT_STORAGE_URI": "memory://", "SQLALCHEMY_ENGINE_OPTIONS": {"poolclass": NullPool}})
    yield limited
    with limited.app_context():
        db.session.remove()
        db.engine.dispose()
    # Creating an app rebinds the shared extensions (api, limiter) to it; the session app may then be
    # collected before its pool is closed, so close the pooled connections now (they reopen on demand).
    with app.app_context():
        db.engine.dispose()
    limiter.enabled = was_enabled


def test_fourth_request_in_a_minute_is_429_with_retry_after(app, limited_app):
    p1 = make_partner(app)
    client = limited_app.test_client()
    for _ in range(3):
        r = client.get("/api/v1/associations", headers=p1.headers)
        assert r.status_code == 200
        assert r.headers["X-RateLimit-Limit"] == "3"
    r = client.get("/api/v1/associations", headers=p1.headers)
    assert r.status_code == 429
    assert 0 < int(r.headers["Retry-After"]) <= 60
    body = r.get_json()
    assert body["code"] == 429 and body["status"] == "Too Many Requests" and body["message"]
    # The budget is shared by every endpoint of the client.
    assert client.get("/api/v1/sessions", headers=p1.headers).status_code == 429
    # Another client has a budget of its own.
    with app.app_context():
        from apn.services import partners as partner_svc
        from apn.tenancy import tenant_scope

        with tenant_scope(p1.tenant_id):
            c2, _ = partner_svc.create_client("Second")
            token, _ = partner_svc.issue_token(c2)
            db.session.commit()
    assert client.get("/api/v1/associations", headers={"Authorization": f"Bearer {token}"}).status_code == 200
