"""The database goes away: every request that needs it answers 503 with ``Retry-After`` in the one error
format (never a 500), and once it is back the same requests succeed, nothing doubled.

PostgreSQL: a cluster of this module's own (the session's shared one must stay up) is stopped and started
again during the tests, cleanly (``fast``) and as a crash (``immediate``), also in the middle of a request.
SQLite: a database held locked by another connection. The partner client (integrations/apn_client) is run
against the app served over real HTTP on 127.0.0.1 while the database is down and honours the server's
``Retry-After``.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import sys
import uuid
from pathlib import Path

import pytest
from flask import jsonify
from sqlalchemy import func, select, text

from apn import create_app
from apn.errors import database_unavailable
from apn.extensions import db
from apn.models import ActivitySession, Association
from apn.services import partners
from apn.tenancy import tenant_scope

_TESTS = Path(__file__).resolve().parents[1]
for _sub in ("leader", "integrations"):
    if str(_TESTS / _sub) not in sys.path:
        sys.path.insert(0, str(_TESTS / _sub))
_ROOT = str(_TESTS.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from leaderhelpers import World, build_world, sign_in  # noqa: E402
from netutil import LiveServer  # noqa: E402

from integrations.apn_client import ApnClient  # noqa: E402

YESTERDAY = (dt.date.today() - dt.timedelta(days=1)).isoformat()


def _app_body(world: World, start: str = "18:00", stop: str = "19:30") -> dict:
    return {"group_id": world.group_id, "date": YESTERDAY, "start": start, "stop": stop,
            "facility_id": world.facility_id, "session_type": "Traening", "present": world.participant_ids[:2],
            "leaders": [world.leader_id]}


def _post_app(client, world: World, body: dict, key: str):
    return client.post(f"/k/{world.slug}/app/sessions", data=json.dumps(body),
                       headers={"Idempotency-Key": key, "Accept": "application/json",
                                "Content-Type": "application/json"})


def _sessions(app, tenant_id: int) -> int:
    with app.app_context(), tenant_scope(tenant_id):
        n = db.session.scalar(select(func.count()).select_from(ActivitySession))
        db.session.remove()
        return n


def _assert_503(resp, json_body: bool = True) -> None:
    assert resp.status_code == 503, (resp.status_code, resp.get_data(as_text=True)[:300])
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    if json_body:
        body = resp.get_json()
        assert body["code"] == 503 and body["status"] == "Service Unavailable"
        assert "databas" in body["message"] and "database" in body["message"]
    else:
        assert "databas" in resp.get_data(as_text=True)


# --- PostgreSQL --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def own_pg(test_db):
    """A cluster of this module's own, stopped and started by the tests."""
    if test_db != "postgresql":
        pytest.skip("stops and restarts a PostgreSQL server of its own; the suite's PostgreSQL run "
                    "(APN_TEST_DB=postgresql) runs it, and the SQLite outage (a locked database) is tested "
                    "in this file on both runs")
    from apn.testing.postgres import TempPostgres

    pg = TempPostgres(database="apn_outage").start()
    yield pg
    pg.stop()


@pytest.fixture(scope="module")
def pg_app(own_pg, base_config):
    """The app on that cluster, migrated, with a leader's world and a partner; a test-only route loses its
    connection half-way (the server crashes between two statements)."""
    from flask_migrate import upgrade

    app = create_app({**base_config, "DATABASE_URL": own_pg.url("apn_app"),
                      "MIGRATE_DATABASE_URL": own_pg.url("apn_owner"), "DB_APP_ROLE": "apn_app"})

    @app.get("/_test/crash-between-statements")
    def _crash_between_statements():
        db.session.execute(text("SELECT 1"))
        own_pg.stop_server("immediate")
        db.session.execute(text("SELECT 2"))
        return jsonify({"unreachable": True})

    @app.get("/_test/crash-caught-and-carried-on/<how>")
    def _crash_caught_and_carried_on(how: str):
        """Code that catches the lost connection and goes on (as a savepoint's rollback does)."""
        from sqlalchemy.exc import OperationalError

        nested = db.session.begin_nested() if how == "savepoint" else None
        db.session.execute(text("SELECT 1"))
        own_pg.stop_server("immediate")
        try:
            db.session.execute(text("SELECT 2"))
        except OperationalError:
            if nested is not None:
                nested.rollback()
        db.session.execute(text("SELECT 3"))
        return jsonify({"unreachable": True})

    @app.get("/_test/crash-after-the-answer")
    def _crash_after_the_answer():
        db.session.execute(text("SELECT 1"))  # a transaction is open; the request's end rolls it back
        own_pg.stop_server("immediate")
        return jsonify({"answered": True})

    with app.app_context():
        upgrade()
        world = build_world()
        with tenant_scope(world.tenant_id):
            orgnr = db.session.get(Association, (world.tenant_id, world.association_id)).organisationsnummer
            client, secret = partners.create_client("KlubbAdmin AB")
            partners.authorise(client.client_id, orgnr)
        db.session.commit()
        app.extensions["outage_test"] = {"world": world, "client_id": client.client_id, "secret": secret,
                                         "orgnr": orgnr}
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def up(own_pg):
    """The server is running after every test, whatever the test did."""
    yield own_pg
    try:
        own_pg.start_server()
    except Exception:  # noqa: BLE001 - already running
        pass


def _token(client, creds: dict) -> str:
    r = client.post("/api/v1/auth/token", data={"grant_type": "client_credentials",
                                                 "client_id": creds["client_id"],
                                                 "client_secret": creds["secret"]})
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["access_token"]


def _api_session(orgnr: str, start: str) -> dict:
    return {"organisationsnummer": orgnr, "card_number": "77", "date": YESTERDAY, "start_time": start,
            "stop_time": "21:00", "type": "Traening",
            "participants": [{"first_name": "Alva", "last_name": "Berg", "birth_date": "2014-05-17", "sex": "F"}],
            "leaders": [{"first_name": "Lena", "last_name": "Holm", "birth_date": "1980-02-02", "sex": "F"}]}


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_every_channel_answers_503_with_retry_after_while_down_and_succeeds_after_restart(pg_app, up, mode):
    creds = pg_app.extensions["outage_test"]
    world: World = creds["world"]
    leader = pg_app.test_client()
    sign_in(leader, world.email)
    api = pg_app.test_client()
    token = _token(api, creds)
    bearer = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    assert api.put(f"/api/v1/associations/{creds['orgnr']}/groups/77", json={"name": "Judo"},
                   headers=bearer).status_code in (200, 201)
    assert leader.get(f"/k/{world.slug}/leader/").status_code == 200  # the pool holds live connections now
    before = _sessions(pg_app, world.tenant_id)
    app_key, api_key = f"app-{uuid.uuid4()}", f"api-{uuid.uuid4()}"
    app_body = _app_body(world, start="16:00" if mode == "fast" else "12:00",
                         stop="17:00" if mode == "fast" else "13:00")
    api_body = _api_session(creds["orgnr"], "20:00" if mode == "fast" else "06:00")
    kod = f"K-{mode}"

    up.stop_server(mode)
    # The leader's app, the leader's pages, the partner API (read, write, token) and the sign-in form.
    _assert_503(_post_app(leader, world, app_body, app_key))
    _assert_503(leader.get(f"/k/{world.slug}/app/csrf", headers={"Accept": "application/json"}))
    _assert_503(leader.get(f"/k/{world.slug}/leader/"), json_body=False)
    _assert_503(leader.get(f"/k/{world.slug}/leader/groups/{world.group_id}"), json_body=False)
    _assert_503(api.get("/api/v1/associations", headers=bearer))
    _assert_503(api.put(f"/api/v1/sessions/{kod}", json=api_body, headers={**bearer, "Idempotency-Key": api_key}))
    _assert_503(api.post("/api/v1/auth/token", data={"grant_type": "client_credentials",
                                                      "client_id": creds["client_id"],
                                                      "client_secret": creds["secret"]}))
    _assert_503(pg_app.test_client().post("/login", data={"email": world.email, "password": "x" * 12}),
                json_body=False)
    assert _sessions_unreachable(pg_app)

    up.start_server()
    r = _post_app(leader, world, app_body, app_key)
    assert r.status_code == 201, r.get_data(as_text=True)
    again = _post_app(leader, world, app_body, app_key)  # the app's resend after a lost answer
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert leader.get(f"/k/{world.slug}/leader/").status_code == 200
    assert api.get("/api/v1/associations", headers=bearer).status_code == 200
    r = api.put(f"/api/v1/sessions/{kod}", json=api_body, headers={**bearer, "Idempotency-Key": api_key})
    assert r.status_code == 201, r.get_data(as_text=True)
    assert _sessions(pg_app, world.tenant_id) == before + 2


def _sessions_unreachable(app) -> bool:
    """The database really is down (so the 503s above were not a coincidence)."""
    with app.app_context():
        try:
            db.session.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - the error is what is checked
            return database_unavailable(exc)
        finally:
            db.session.remove()
    return False


def test_a_connection_lost_between_two_statements_answers_503(pg_app, up):
    r = pg_app.test_client().get("/_test/crash-between-statements", headers={"Accept": "application/json"})
    _assert_503(r)
    up.start_server()
    creds = pg_app.extensions["outage_test"]
    leader = pg_app.test_client()
    sign_in(leader, creds["world"].email)
    assert leader.get(f"/k/{creds['world'].slug}/leader/").status_code == 200


@pytest.mark.parametrize("how", ["plain", "savepoint"])
def test_a_lost_connection_caught_by_the_code_still_answers_503(pg_app, up, how):
    """The next statement raises PendingRollbackError ("Can't reconnect until invalid transaction is rolled
    back"), not the OperationalError: found by the deadline-day benchmark as a 500 on the app and the API."""
    r = pg_app.test_client().get(f"/_test/crash-caught-and-carried-on/{how}", headers={"Accept": "application/json"})
    _assert_503(r)
    up.start_server()
    assert pg_app.test_client().get("/healthz").status_code == 200


def test_a_server_gone_after_the_answer_was_made_keeps_the_answer(pg_app, up):
    """The request's closing ROLLBACK meets a dead connection: the answer stands (it was a 500 from the
    teardown), and the next request gets a fresh connection."""
    r = pg_app.test_client().get("/_test/crash-after-the-answer", headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.get_json() == {"answered": True}
    up.start_server()
    creds = pg_app.extensions["outage_test"]
    leader = pg_app.test_client()
    sign_in(leader, creds["world"].email)
    assert leader.get(f"/k/{creds['world'].slug}/leader/").status_code == 200


def test_the_rate_limiter_does_not_stretch_retry_after(pg_app, own_pg, up, base_config):
    """With rate limiting on, Flask-Limiter raises every Retry-After to the end of its window (up to a
    minute); an outage's 503 keeps the few seconds it asks for, on the API and the pages."""
    creds = pg_app.extensions["outage_test"]
    limited = create_app({**base_config, "RATELIMIT_ENABLED": True, "DATABASE_URL": own_pg.url("apn_app")})
    api = limited.test_client()
    bearer = {"Authorization": f"Bearer {_token(api, creds)}", "Accept": "application/json"}
    assert api.get("/api/v1/associations", headers=bearer).status_code == 200
    up.stop_server("fast")
    try:
        for resp in (api.get("/api/v1/associations", headers=bearer),
                     api.post("/api/v1/auth/token", data={"grant_type": "client_credentials",
                                                          "client_id": creds["client_id"],
                                                          "client_secret": creds["secret"]})):
            _assert_503(resp)
            assert resp.headers["Retry-After"] == "5"
    finally:
        up.start_server()
        with limited.app_context():
            db.engine.dispose()


def test_the_partner_client_waits_as_retry_after_says_and_gets_through_after_the_restart(pg_app, up):
    creds = pg_app.extensions["outage_test"]
    world: World = creds["world"]
    server = LiveServer(pg_app)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        """The client's pause: record it, and let the database come back during the first one."""
        slept.append(seconds)
        if len(slept) == 1:
            up.start_server()

    try:
        c = ApnClient(server.url, creds["client_id"], creds["secret"], timeout=20, backoff=0.01, sleep=sleep)
        c.put_group(creds["orgnr"], "77", {"name": "Judo"})
        before = _sessions(pg_app, world.tenant_id)
        up.stop_server("fast")
        reply = c.request("PUT", "/sessions/K-client", json=_api_session(creds["orgnr"], "07:00"))
        assert reply.status == 201
        assert [e[1] for e in c.events if e[0] == "retry"] == ["503"]
        assert slept == [5.0]  # the server's Retry-After, not the client's 0.01 s backoff
        assert _sessions(pg_app, world.tenant_id) == before + 1
        # A fresh client (no token yet): the token request itself meets the outage and waits too.
        slept.clear()
        up.stop_server("immediate")
        fresh = ApnClient(server.url, creds["client_id"], creds["secret"], timeout=20, backoff=0.01, sleep=sleep)
        assert fresh.associations()[0]["organisationsnummer"] == creds["orgnr"]
        assert slept == [5.0]
    finally:
        server.stop()


def test_the_wait_is_configurable(own_pg, base_config):
    app = create_app({**base_config, "DATABASE_URL": own_pg.url("apn_app"), "DB_RETRY_AFTER": 2})
    own_pg.stop_server("fast")
    try:
        r = app.test_client().get("/", headers={"Accept": "application/json"})
        _assert_503(r)
        assert r.headers["Retry-After"] == "2"
    finally:
        own_pg.start_server()
        with app.app_context():
            db.engine.dispose()


# --- SQLite ------------------------------------------------------------------------------------------------

@pytest.fixture
def sqlite_app(tmp_path, base_config):
    """An app on a SQLite file of its own that waits only 0.2 s for a lock."""
    path = tmp_path / "locked.sqlite"
    app = create_app({**base_config, "DATABASE_URL": f"sqlite:///{path}",
                      "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"timeout": 0.2}}})
    with app.app_context():
        db.create_all()
        world = build_world()
        db.session.remove()
    yield app, world, path
    with app.app_context():
        db.engine.dispose()


def test_sqlite_locked_by_another_writer_answers_503_then_saves_once(sqlite_app):
    app, world, path = sqlite_app
    leader = app.test_client()
    sign_in(leader, world.email)
    body = _app_body(world)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        _assert_503(_post_app(leader, world, body, "key-locked-1"))
        assert leader.get(f"/k/{world.slug}/leader/").status_code == 200  # readers go on (WAL)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _post_app(leader, world, body, "key-locked-1").status_code == 201
    assert _post_app(leader, world, body, "key-locked-1").headers["Idempotent-Replayed"] == "true"
    assert _sessions(app, world.tenant_id) == 1


def test_other_database_errors_stay_500(sqlite_app):
    """Only unreachable or busy counts as an outage: a broken statement is our bug and stays a 500."""
    app, world, _ = sqlite_app
    with app.app_context():
        with pytest.raises(Exception) as info:
            db.session.execute(text("SELECT * FROM no_such_table"))
        assert not database_unavailable(info.value)
        db.session.remove()
