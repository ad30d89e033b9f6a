"""Settings: defaults here, then an instance file, then ``APN_*`` environment variables.

Nothing is read from the environment at import time; :func:`load_config` is called by the app factory.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

#: Defaults. Every key can be overridden by ``instance/apn.cfg`` or by ``APN_<KEY>`` in the environment.
DEFAULTS: dict[str, Any] = {
    "SECRET_KEY": None,  # generated and kept under instance/ in development
    "DATABASE_URL": None,  # default: sqlite:///<instance>/apn.sqlite
    # PostgreSQL: the schema owner's URL for `flask db upgrade`, and the role the app connects as.
    "MIGRATE_DATABASE_URL": None,
    "DB_APP_ROLE": None,
    # Key for the keyed hash (HMAC-SHA256) of personal identity numbers: shared by all tenants of one
    # installation so the same person can be matched across municipalities without revealing the number.
    "PNR_HASH_KEY": None,
    # Fernet key that encrypts stored personal identity numbers at rest.
    "PNR_ENCRYPTION_KEY": None,
    "DEFAULT_LOCALE": "sv",
    "LOCALES": ["sv", "en"],
    "SMALL_CELL_THRESHOLD": 5,
    "SQLALCHEMY_ECHO": False,
    "API_RATE_LIMIT": "600 per minute",
    # Lifetime of a partner's access token in seconds.
    "API_TOKEN_TTL": 3600,
    "RATELIMIT_STORAGE_URI": "memory://",
    "MAIL_SERVER": None,
    "MAIL_PORT": 25,
    "MAIL_FROM": "apn@localhost",
    "MAIL_USERNAME": "",
    "MAIL_PASSWORD": "",
    "MAIL_USE_TLS": False,
    # Flask-Mailman backend; unset: SMTP with MAIL_SERVER, else in development (DEBUG) a file under
    # MAIL_FILE_PATH or the console, else mail is not sent (and never logged: it holds sign-in links).
    "MAIL_BACKEND": None,
    "MAIL_FILE_PATH": None,
    # APN_DEBUG: development mode (development mail on the console or in a file). Never in production.
    "DEBUG": False,
    # Failed sign-ins allowed per e-mail address, and per IP address over all addresses (limits notation);
    # counted in the database, or in RATELIMIT_STORAGE_URI when that is shared storage (Redis).
    "LOGIN_THROTTLE": "5 per 15 minutes",
    "LOGIN_THROTTLE_IP": "20 per 15 minutes",
    # Reverse proxies in front of the app that set X-Forwarded-For (0: none). Sign-in throttling and rate
    # limits count the client's address, so behind a proxy this must be set.
    "TRUSTED_PROXIES": 0,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,
    # Served over HTTPS (turn on in production): Secure cookies and Strict-Transport-Security (apn.web.headers).
    "HTTPS": False,
    "MAX_CONTENT_LENGTH": 20 * 1024 * 1024,
    # argon2id cost of password hashes (apn.auth.HASH_COSTS): "default" (RFC 9106 low-memory, 64 MiB);
    # "cheapest" only for the test suite.
    "PASSWORD_HASH_COST": "default",
}

_SECRET_FILES = {
    "SECRET_KEY": "secret_key",
    "PNR_HASH_KEY": "pnr_hash_key",
    "PNR_ENCRYPTION_KEY": "pnr_encryption_key",
}


def _coerce(raw: str, default: Any) -> Any:
    """Turn an environment string into the type of the default value."""
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, list):
        return json.loads(raw) if raw.strip().startswith("[") else [p.strip() for p in raw.split(",")]
    return raw


def _instance_secret(instance_path: Path, name: str, key: str) -> str:
    """Read a development secret from the instance folder, creating it on first use."""
    path = instance_path / name
    if path.exists():
        return path.read_text().strip()
    if key == "PNR_ENCRYPTION_KEY":
        from cryptography.fernet import Fernet

        value = Fernet.generate_key().decode()
    else:
        value = secrets.token_hex(32)
    instance_path.mkdir(parents=True, exist_ok=True)
    path.write_text(value)
    path.chmod(0o600)
    return value


def load_config(instance_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the settings for one app: defaults < instance/apn.cfg < environment < overrides."""
    cfg: dict[str, Any] = dict(DEFAULTS)
    inst = Path(instance_path)
    cfg_file = inst / "apn.cfg"
    if cfg_file.exists():
        values: dict[str, Any] = {}
        exec(compile(cfg_file.read_text(), str(cfg_file), "exec"), values)  # noqa: S102 - operator's file
        cfg.update({k: v for k, v in values.items() if k.isupper()})
    for key, default in list(cfg.items()):
        raw = os.environ.get(f"APN_{key}")
        if raw is not None:
            cfg[key] = _coerce(raw, default)
    for key in ("TESTING",):
        raw = os.environ.get(f"APN_{key}")
        if raw is not None:
            cfg[key] = _coerce(raw, False)
    if overrides:
        cfg.update(overrides)
    # APN_DEBUG as read at start-up: Flask's command line resets DEBUG from FLASK_DEBUG after the app is made
    # (`flask run` without --debug), and development mail must not depend on that.
    cfg.setdefault("DEVELOPMENT", bool(cfg.get("DEBUG")))
    if not cfg.get("DATABASE_URL"):
        inst.mkdir(parents=True, exist_ok=True)
        cfg["DATABASE_URL"] = f"sqlite:///{inst / 'apn.sqlite'}"
    cfg.setdefault("SQLALCHEMY_DATABASE_URI", cfg["DATABASE_URL"])
    if overrides and "DATABASE_URL" in overrides:
        cfg["SQLALCHEMY_DATABASE_URI"] = overrides["DATABASE_URL"]
    for key, fname in _SECRET_FILES.items():
        if not cfg.get(key):
            cfg[key] = _instance_secret(inst, fname, key)
    cfg["BABEL_DEFAULT_LOCALE"] = cfg["DEFAULT_LOCALE"]
    return cfg
