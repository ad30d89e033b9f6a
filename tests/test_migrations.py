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


def test_upgrade_of_empty_database_gives_the_models_schema(tmp_path, request, test_db, base_config):
    if test_db == "postgresql":
        pg = request.getfixturevalue("postgres")
        pg.create_database("apn_migrate_check")
        cfg = {"DATABASE_URL": pg.url("apn_app", "apn_migrate_check"),
               "MIGRATE_DATABASE_URL": pg.url("apn_owner", "apn_migrate_check"), "DB_APP_ROLE": "apn_app"}
        owner_url = cfg["MIGRATE_DATABASE_URL"]
    else:
        cfg = {"DATABASE_URL": f"sqlite:///{tmp_path / 'm.sqlite'}"}
        owner_url = cfg["DATABASE_URL"]
    app = create_app({**base_config, **cfg})
    with app.app_context():
        upgrade()
        assert _diff(owner_url) == []
        assert set(db.metadata.tables) <= _tables(owner_url)
        downgrade(revision="base")
        assert _tables(owner_url) <= {"alembic_version"}
        db.session.remove()
        db.engine.dispose()
