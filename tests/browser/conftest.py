"""Browser tests: the app served over real HTTP on 127.0.0.1 (same database as the run: file SQLite or the
temporary PostgreSQL), with CSRF protection on, driven by Debian's chromium through Playwright.

Chromium and axe-core are installed by ``make chromium axe`` (``make test`` depends on both); when they are
missing these tests fail with that instruction rather than being skipped.
"""

from __future__ import annotations

import pytest
from browserhelpers import AXE, CHROMIUM, LiveServer, launch

from apn import create_app


@pytest.fixture(scope="session")
def live_app(_app):
    """A second app on the test run's database, as in production: CSRF protection on."""
    keep = ("DATABASE_URL", "SQLALCHEMY_DATABASE_URI", "MIGRATE_DATABASE_URL", "DB_APP_ROLE", "SECRET_KEY",
            "PNR_HASH_KEY", "PNR_ENCRYPTION_KEY")
    cfg = {k: _app.config[k] for k in keep if _app.config.get(k) is not None}
    cfg.update(TESTING=True, WTF_CSRF_ENABLED=True, RATELIMIT_ENABLED=False)
    live = create_app(cfg)
    yield live
    from apn.extensions import db

    with live.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def live_server(live_app):
    """The live app on http://127.0.0.1:<free port>."""
    server = LiveServer(live_app).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium through Playwright (one for the session)."""
    import os

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium` (installs Debian's chromium)")
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make axe` (fetches axe-core from the npm registry)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = launch(pw)
        yield b
        b.close()


@pytest.fixture
def base(app, live_server) -> str:
    """The live server's address; the ``app`` fixture empties the tables after the test."""
    return live_server.url
