"""The schema comes from the Alembic migrations: upgrading an empty database gives exactly the models'
schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect

from apn import create_app
from apn.extensions import db


def _tables(url: str) -> set[str]:
    eng = create_engine(url)
    try:
        return set(inspect(eng).get_table_names())
    finally:
        eng.dispose()


def _diff(url: str) -> list:
    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            mc = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(mc, db.metadata)
    finally:
        eng.dispose()


def test_upgrade_of_empty_database_gives_the_models_schema(empty_database, base_config):
    cfg, owner_url = empty_database("apn_migrate_check")
    app = create_app({**base_config, **cfg})
    with app.app_context():
        upgrade()
        assert _diff(owner_url) == []
        assert set(db.metadata.tables) <= _tables(owner_url)
        downgrade(revision="base")
        assert _tables(owner_url) <= {"alembic_version"}
        db.session.remove()
        db.engine.dispose()


def test_attendance_span_migration_copies_the_session_times_of_existing_rows(empty_database, test_db,
                                                                             base_config):
    """0004 on a database holding attendance: every row gets its session's times, then the keys apply."""
    import datetime as dt

    from sqlalchemy import Date, DateTime, Time, bindparam, text

    cfg, owner_url = empty_database("apn_migrate_span")
    app = create_app({**base_config, **cfg})
    now = dt.datetime(2025, 3, 1, 12, 0)
    starts, ends = dt.datetime(2025, 3, 4, 18, 0), dt.datetime(2025, 3, 4, 19, 30)
    with app.app_context():
        upgrade(revision="0003_statistics")
        eng = create_engine(owner_url)
        with eng.begin() as conn:
            if test_db == "postgresql":
                conn.exec_driver_sql("SELECT set_config('app.all_tenants', 'on', true)")
            rows = [
                ("INSERT INTO tenant (id, slug, name, kommunkod, small_cell_threshold, retention_months, settings, "
                 "created_at) VALUES (1, 'm', 'M', '2480', 5, 24, '{}', :now)", {}),
                ("INSERT INTO association (tenant_id, id, name, organisationsnummer, disability_association, "
                 "created_at) VALUES (1, 1, 'IF', '8020000017', false, :now)", {}),
                ("INSERT INTO activity_group (tenant_id, id, association_id, name, active) "
                 "VALUES (1, 1, 1, 'P13', true)", {}),
                ("INSERT INTO person (tenant_id, id, first_name, last_name, birth_date, sex, coordination_number, "
                 "created_at) VALUES (1, 1, 'A', 'B', :bd, 'F', false, :now)", {"bd": dt.date(2012, 1, 1)}),
                ("INSERT INTO activity_session (tenant_id, id, group_id, association_id, session_date, start_time, "
                 "stop_time, starts_at, ends_at, duration_minutes, session_type, team_sport, channel, reported_at, "
                 "updated_at) VALUES (1, 1, 1, 1, :d, :st, :sp, :s, :e, 90, 'Traening', false, 'web', :now, :now)",
                 {"d": starts.date(), "st": starts.time(), "sp": ends.time(), "s": starts, "e": ends}),
                ("INSERT INTO attendance (tenant_id, session_id, person_id, role, present, disability) "
                 "VALUES (1, 1, 1, 'participant', true, false)", {}),
            ]
            types = {"now": DateTime, "bd": Date, "d": Date, "st": Time, "sp": Time, "s": DateTime, "e": DateTime}
            for sql, params in rows:
                params = {"now": now, **params}
                stmt = text(sql).bindparams(*(bindparam(k, type_=types[k]) for k in params if f":{k}" in sql))
                conn.execute(stmt, {k: v for k, v in params.items() if f":{k}" in sql})
        upgrade()
        with eng.begin() as conn:
            if test_db == "postgresql":
                conn.exec_driver_sql("SELECT set_config('app.all_tenants', 'on', true)")
            got = conn.execute(text("SELECT starts_at, ends_at FROM attendance").columns(
                starts_at=DateTime, ends_at=DateTime)).one()
            assert tuple(got) == (starts, ends)
        assert _diff(owner_url) == []
        eng.dispose()
        db.session.remove()
        db.engine.dispose()


def test_a_failed_migration_on_sqlite_leaves_the_database_as_it_was(tmp_path, test_db, base_config):
    """SQLite runs the migrations in one real transaction: one that fails (here 0004 meets an attendance row
    without its session) leaves the previous revision intact, with no half-rebuilt tables, and can be run
    again once the data is fixed."""
    import sqlite3

    import pytest

    if test_db != "sqlite":
        pytest.skip("SQLite-only test; PostgreSQL runs DDL in transactions by itself, and the suite's SQLite run "
                    "(APN_TEST_DB=sqlite) covers this")
    path = tmp_path / "failing.sqlite"
    app = create_app({**base_config, "DATABASE_URL": f"sqlite:///{path}"})
    with app.app_context():
        upgrade(revision="0003_statistics")
        raw = sqlite3.connect(path)  # the driver's default: foreign keys not enforced
        raw.execute("INSERT INTO attendance (tenant_id, session_id, person_id, role, present, disability) "
                    "VALUES (1, 99, 99, 'participant', 1, 0)")
        raw.commit()
        with pytest.raises(Exception, match="NOT NULL"):
            upgrade()
        assert raw.execute("SELECT version_num FROM alembic_version").fetchall() == [("0003_statistics",)]
        assert raw.execute("SELECT name FROM sqlite_master WHERE name LIKE '_alembic_tmp%'").fetchall() == []
        columns = [r[1] for r in raw.execute("PRAGMA table_info(attendance)")]
        assert "starts_at" not in columns
        assert raw.execute("SELECT count(*) FROM attendance").fetchone() == (1,)
        raw.execute("DELETE FROM attendance")
        raw.commit()
        raw.close()
        upgrade()
        assert _diff(f"sqlite:///{path}") == []
        db.session.remove()
        db.engine.dispose()
