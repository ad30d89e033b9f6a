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
        context.configure(connection=connection, target_metadata=target_db.metadata, **conf_args)
        with context.begin_transaction():
            context.run_migrations()
    if connectable is not target_db.engine:
        connectable.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
