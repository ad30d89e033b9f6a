"""Alembic environment: migrates the app's database, or ``APN_MIGRATE_DATABASE_URL`` when set.

On PostgreSQL the schema should be owned by a role other than the one the app connects as
(see docs/operations.md): run migrations with ``APN_MIGRATE_DATABASE_URL`` pointing at the owner and set
``APN_DB_APP_ROLE`` to the app's role so the migrations grant it what it needs.
"""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app
from sqlalchemy import create_engine, event
from sqlalchemy.pool import NullPool

config = context.config
if config.config_file_name and not current_app.testing:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db


def _url() -> str:
    return current_app.config.get("MIGRATE_DATABASE_URL") or current_app.config["SQLALCHEMY_DATABASE_URI"]


def run_migrations_offline() -> None:
    """Emit SQL instead of running it."""
    context.configure(url=_url(), target_metadata=target_db.metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def _sqlite_engine(url: str):
    """SQLite: an engine of its own for the migrations, so they run in one real transaction with foreign
    keys off, without changing the app's connections.

    Batch mode rebuilds a table by copy, drop and rename; with foreign keys enforced, the drop would delete
    (ON DELETE CASCADE) every row that refers to it. The pragma only takes effect outside a transaction,
    and the driver's own transaction handling commits DDL at once, so a failed migration would leave half
    of it behind. The driver is put in autocommit mode and SQLAlchemy's begin sends ``BEGIN`` itself.
    """
    engine = create_engine(url, poolclass=NullPool)

    @event.listens_for(engine, "connect")
    def _autocommit_driver(dbapi_connection, connection_record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.exec_driver_sql("BEGIN")

    return engine


def run_migrations_online() -> None:
    """Run against a live connection; on SQLite, check the foreign keys before committing."""
    conf_args = dict(current_app.extensions["migrate"].configure_args)
    url = _url()
    sqlite = url.startswith("sqlite") and ":memory:" not in url and url.rstrip("/") != "sqlite:"
    if sqlite:
        connectable = _sqlite_engine(url)
        conf_args["transactional_ddl"] = True
    elif current_app.config.get("MIGRATE_DATABASE_URL"):
        connectable = create_engine(current_app.config["MIGRATE_DATABASE_URL"])
    else:
        connectable = target_db.engine
    try:
        with connectable.connect() as connection:
            context.configure(connection=connection, target_metadata=target_db.metadata, **conf_args)
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError("the migration would leave rows without the row they refer to "
                                           f"(table, rowid, parent, key): {broken[:5]}")
    finally:
        if connectable is not target_db.engine:
            connectable.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
