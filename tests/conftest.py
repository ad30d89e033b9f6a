"""Test fixtures: one app per test session on SQLite or PostgreSQL (``APN_TEST_DB``), tables emptied
after each test that used the database."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text

from apn import create_app
from apn.extensions import db

TEST_DB = os.environ.get("APN_TEST_DB", "sqlite")

KEYS = {
    "SECRET_KEY": "test-secret",
    "PNR_HASH_KEY": "test-pnr-hash-key",
    "PNR_ENCRYPTION_KEY": "x3pC6mCTcLkq2cXKhYFx1p4qYkYQ3F3Hn0u3ZbqJ1kE=",
}


@pytest.fixture(scope="session")
def test_db() -> str:
    """``sqlite`` or ``postgresql``: the database of this run."""
    return TEST_DB


@pytest.fixture(scope="session")
def base_config() -> dict:
    """Settings every test app needs (keys, testing flags), without a database URL."""
    return {"TESTING": True, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False, "PASSWORD_HASH_COST": "cheapest",
            **KEYS}


def pytest_report_header(config):
    return f"apn test database: {TEST_DB}"


@pytest.fixture(scope="session")
def postgres():
    """A temporary PostgreSQL cluster for the whole test session (only when APN_TEST_DB=postgresql)."""
    if TEST_DB != "postgresql":
        pytest.skip("PostgreSQL-only test; the suite's PostgreSQL run (APN_TEST_DB=postgresql) covers it")
    from apn.testing.postgres import TempPostgres

    pg = TempPostgres(database="apn_test").start()
    yield pg
    pg.stop()


def _config(tmp_path_factory, request) -> dict:
    cfg = {"TESTING": True, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False, "PASSWORD_HASH_COST": "cheapest",
           **KEYS}
    if TEST_DB == "postgresql":
        pg = request.getfixturevalue("postgres")
        cfg.update(DATABASE_URL=pg.url("apn_app"), MIGRATE_DATABASE_URL=pg.url("apn_owner"),
                   DB_APP_ROLE="apn_app")
    else:
        path = tmp_path_factory.mktemp("db") / "test.sqlite"
        cfg["DATABASE_URL"] = f"sqlite:///{path}"
    return cfg


@pytest.fixture(scope="session")
def _app(tmp_path_factory, request):
    cfg = _config(tmp_path_factory, request)
    app = create_app(cfg)
    with app.app_context():
        if TEST_DB == "postgresql":
            from flask_migrate import upgrade

            upgrade()
        else:
            db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
    # Close the pooled connections of every app the tests made (live servers, rate-limit apps, migration
    # checks), not only this one, before the PostgreSQL server goes away.
    import gc

    gc.collect()
    for engines in list(db._app_engines.values()):
        for engine in engines.values():
            engine.dispose()


def _truncate(app) -> None:
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        if TEST_DB == "postgresql":
            eng = create_engine(app.config["MIGRATE_DATABASE_URL"])
            with eng.begin() as conn:
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            eng.dispose()
        else:
            with db.engine.begin() as conn:
                for t in tables:
                    conn.execute(text(f"DELETE FROM {t}"))


@pytest.fixture
def app(_app):
    """The app; every table is emptied after the test."""
    yield _app
    _truncate(_app)


@pytest.fixture
def ctx(app):
    """An app context for service-level tests; yields the app."""
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def client(app):
    """Test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """CLI runner."""
    return app.test_cli_runner()


@pytest.fixture
def live(app):
    """The test app (SQLite or PostgreSQL, as the suite runs) served in threads on 127.0.0.1."""
    from tests.integrations.netutil import LiveServer

    server = LiveServer(app)
    yield server
    server.stop()


@pytest.fixture
def empty_database(tmp_path, request, test_db):
    """``make(name) -> (settings, owner URL)``: a new, empty database of the run's kind, for migration tests."""

    def make(name: str) -> tuple[dict, str]:
        if test_db == "postgresql":
            pg = request.getfixturevalue("postgres")
            pg.create_database(name)
            cfg = {"DATABASE_URL": pg.url("apn_app", name), "MIGRATE_DATABASE_URL": pg.url("apn_owner", name),
                   "DB_APP_ROLE": "apn_app"}
            return cfg, cfg["MIGRATE_DATABASE_URL"]
        url = f"sqlite:///{tmp_path / name}.sqlite"
        return {"DATABASE_URL": url}, url

    return make
