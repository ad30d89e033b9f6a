"""Alembic environment: migrates the app's database, or ``APN_MIGRATE_DATABASE_URL`` when set.

On PostgreSQL the schema should be owned by a role other than the one the app connects as
(see docs/operations.md): run migrations with ``APN_MIGRATE_DATABASE_URL`` pointing at the owner and set
``APN_DB_APP_ROLE`` to the app's role so the migrations grant it what it needs.
"""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app
from sqlalchemy import create_engine

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


def run_migrations_online() -> None:
    """Run against a live connection."""
    conf_args = current_app.extensions["migrate"].configure_args
    if current_app.config.get("MIGRATE_DATABASE_URL"):
        connectable = create_engine(current_app.config["MIGRATE_DATABASE_URL"])
    else:
        connectable = target_db.engine
    with connectable.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds a SQLite table by copy, drop and rename; with foreign keys enforced, the
            # drop would delete (ON DELETE CASCADE) the rows that refer to it. The pragma only takes effect
            # outside a transaction; the keys are checked once the migrations are done.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()  # end SQLAlchemy's implicit transaction, so Alembic's own is a real one
        context.configure(connection=connection, target_metadata=target_db.metadata, **conf_args)
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migration left rows without their referenced row: {broken[:5]}")
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
    if connectable is not target_db.engine:
        connectable.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
