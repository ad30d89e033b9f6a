"""Row-level security on PostgreSQL: the second wall behind the ORM scoping.

The app connects as ``apn_app``, a role that does not own the tables. With the tenant setting of A, a plain
SQL read of B's rows returns nothing and a write into B is refused by the database itself."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

from apn.extensions import db
from apn.testing import factories as f


@pytest.fixture
def seeded(postgres, ctx):
    a = f.create_tenant(slug="rls-a", kommunkod="2480")
    b = f.create_tenant(slug="rls-b", kommunkod="1384")
    ga = f.create_group(a, f.create_association(a))
    gb = f.create_group(b, f.create_association(b))
    kid_b = f.create_person(b, dt.date(2012, 4, 4))
    f.report_session(b, gb, dt.date(2025, 3, 3), participants=[kid_b])
    db.session.commit()
    return postgres, a.id, b.id, ga, gb


def test_app_role_does_not_own_the_tables(seeded):
    pg, *_ = seeded
    owners = pg.psql("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'", database="apn_test")
    assert "apn_owner" in owners and "apn_app" not in owners
    forced = pg.psql("SELECT count(*) FROM pg_class WHERE relname = 'activity_session' AND relforcerowsecurity",
                     database="apn_test")
    assert " 1" in forced


def test_cross_tenant_read_returns_nothing_and_write_is_refused(seeded):
    pg, a, b, ga, gb = seeded
    eng = create_engine(pg.url("apn_app", "apn_test"))
    try:
        with eng.connect() as conn:
            conn.execute(text("SELECT set_config('app.tenant_id', :t, false)"), {"t": str(a)})
            assert conn.execute(text("SELECT count(*) FROM activity_session")).scalar() == 0
            assert conn.execute(text("SELECT count(*) FROM person WHERE tenant_id = :b"), {"b": b}).scalar() == 0
            assert conn.execute(text("SELECT count(*) FROM association")).scalar() == 1
            # an UPDATE aimed at B's rows sees none of them
            res = conn.execute(text("UPDATE person SET first_name = 'X' WHERE tenant_id = :b"), {"b": b})
            assert res.rowcount == 0
            conn.commit()
            # an INSERT into B is refused by the policy's WITH CHECK
            conn.execute(text("SELECT set_config('app.tenant_id', :t, false)"), {"t": str(a)})
            with pytest.raises(ProgrammingError, match="row-level security"):
                conn.execute(text(
                    "INSERT INTO home_area (tenant_id, id, code, name, version) VALUES (:b, 999, 'X', 'X', '')"),
                    {"b": b})
            conn.rollback()
            # with no tenant set, nothing is visible at all
            assert conn.execute(text("SELECT count(*) FROM activity_session")).scalar() == 0
            # and B, with its own setting, sees its session
            conn.execute(text("SELECT set_config('app.tenant_id', :t, false)"), {"t": str(b)})
            assert conn.execute(text("SELECT count(*) FROM activity_session")).scalar() == 1
    finally:
        eng.dispose()


def test_audit_log_is_append_only_for_the_app_role(seeded):
    pg, a, *_ = seeded
    eng = create_engine(pg.url("apn_app", "apn_test"))
    try:
        with eng.connect() as conn:
            conn.execute(text("SELECT set_config('app.tenant_id', :t, false)"), {"t": str(a)})
            conn.execute(text("INSERT INTO audit_log (tenant_id, id, at, action, entity) "
                              "VALUES (:a, nextval('audit_log_id_seq'), now(), 'x', 'y')"), {"a": a})
            conn.commit()
            with pytest.raises(ProgrammingError, match="permission denied"):
                conn.execute(text("DELETE FROM audit_log"))
            conn.rollback()
    finally:
        eng.dispose()


def test_app_role_may_refresh_planner_statistics_but_owns_nothing(seeded):
    pg, a, *_ = seeded
    eng = create_engine(pg.url("apn_app", "apn_test"))
    try:
        with eng.connect() as conn:
            conn.execute(text("SELECT apn_refresh_statistics()"))
            conn.commit()
            with pytest.raises(ProgrammingError, match="must be owner|permission denied"):
                conn.execute(text("ALTER TABLE person ADD COLUMN x int"))
            conn.rollback()
    finally:
        eng.dispose()
    stats = pg.psql("SELECT count(*) FROM pg_stats WHERE tablename = 'activity_session'", database="apn_test")
    assert stats.split()[2] != "0"
