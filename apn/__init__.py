"""apn: open activity-grant reporting for municipalities."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, request, session
from sqlalchemy import event
from sqlalchemy.engine import Engine


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Create the application. The only place an app is made; ``config`` overrides every other setting."""
    from apn import auth, errors, inputs, tenancy  # noqa: F401 - auth registers the user loader
    from apn.config import load_config
    from apn.extensions import api, babel, csrf, db, limiter, login_manager, mail, migrate

    app = Flask(__name__, instance_relative_config=True, template_folder="web/templates",
                static_folder="web/static")
    app.config.update(load_config(app.instance_path, config))
    inputs.install(app)  # bounded URL converters before any rule is added; the input guard
    if app.config.get("TRUSTED_PROXIES"):  # behind a reverse proxy: the client's address, not the proxy's
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=int(app.config["TRUSTED_PROXIES"]))  # type: ignore[method-assign]
    app.config.setdefault("API_TITLE", "apn partner gateway")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", _engine_options(app.config["SQLALCHEMY_DATABASE_URI"]))

    logging.basicConfig(level=logging.INFO if not app.testing else logging.WARNING)

    import apn.rules  # noqa: F401 - registers the rule presets' tenant-creation hook
    from apn import models  # noqa: F401 - registers the tables
    from apn.i18n import compile_catalogs, translation_directories

    compile_catalogs()
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", ";".join(translation_directories()))

    db.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True, compare_type=True)
    babel.init_app(app, locale_selector=_select_locale)
    csrf.init_app(app)
    login_manager.init_app(app)
    mail.init_app(app)
    limiter.init_app(app)
    api.init_app(app)

    with app.app_context():
        tenancy.install(db.session)

    errors.register(app)
    from apn.web import headers

    headers.init_app(app)

    from flask_babel import get_locale

    app.jinja_env.globals["get_locale"] = get_locale

    from apn.api import register as register_api
    from apn.web import register as register_web

    register_api(app, api)
    register_web(app)

    from apn.cli import register as register_cli

    register_cli(app)
    from apn.clash import install as install_clash  # the clash check joins the one intake

    install_clash()
    return app


def _engine_options(uri: str) -> dict[str, Any]:
    """Engine options; a failing statement's parameters (names, birth dates, hashes) never reach a log."""
    if uri.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}, "hide_parameters": True}
    return {"pool_pre_ping": True, "hide_parameters": True}


def _migrations_dir():
    from pathlib import Path

    return Path(__file__).resolve().parent / "migrations"


def _select_locale() -> str:
    from flask import current_app

    locales = current_app.config["LOCALES"]
    chosen = request.args.get("lang") or session.get("lang")
    if chosen in locales:
        return chosen
    return current_app.config["DEFAULT_LOCALE"]


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """Foreign keys on and write-ahead logging for SQLite connections."""
    module = type(dbapi_connection).__module__
    if module.startswith("sqlite3"):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()
