"""One error format for the whole application.

API responses (``/api/``) use flask-smorest's envelope ``{"code", "status", "message", "errors"}`` where
``errors`` maps a location (``json``, ``form``, ``query``, ``file``) to field names and their messages.
Pages get a rendered page with the same message. No stack trace ever reaches a user.
"""

from __future__ import annotations

import contextlib
import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """A client mistake the domain found: a specific message, the field it concerns, and a 4xx status."""

    status = 422

    def __init__(
        self,
        message: str,
        field: str | None = None,
        status: int | None = None,
        location: str = "json",
        errors: dict[str, Any] | None = None,
        error_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if status is not None:
            self.status = status
        self.location = location
        self.extra_errors = errors
        #: A stable machine-readable reason (e.g. the intake's ``period_closed``), as ``error_code`` in JSON.
        self.error_code = error_code

    def errors(self) -> dict[str, Any] | None:
        """Field-level messages in the API's error format."""
        if self.extra_errors is not None:
            return self.extra_errors
        if self.field:
            return {self.location: {self.field: [self.message]}}
        return None


class NotFound(DomainError):
    """Unknown id (or another tenant's, which is the same to the caller)."""

    status = 404


class Conflict(DomainError):
    """The request conflicts with the stored state (e.g. a closed period)."""

    status = 409


class Forbidden(DomainError):
    """Authenticated, but not allowed to touch this."""

    status = 403


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(status: int, message: str, errors: dict[str, Any] | None = None, headers=None,
                   error_code: str | None = None):
    """Render an error in the format the caller expects (JSON carries ``error_code`` when one is given)."""
    try:
        name = HTTPStatus(status).phrase
    except ValueError:
        name = "Error"
    if _wants_json():
        body: dict[str, Any] = {"code": status, "status": name, "message": message}
        if errors:
            body["errors"] = errors
        if error_code:
            body["error_code"] = error_code
        resp = jsonify(body)
    else:
        resp = make_response(
            render_template("error.html", status=status, name=name, message=message, errors=errors)
        )
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _retry_after_seconds() -> int:
    """Seconds until the limit that was hit resets (at least 1)."""
    import math
    import time

    from apn.extensions import limiter

    current = getattr(limiter, "current_limit", None)
    if current is None:
        return 1
    return max(1, math.ceil(current.reset_at - time.time()))


#: Seconds a client is asked to wait when the database is unreachable (``DB_RETRY_AFTER`` overrides).
DB_RETRY_AFTER = 5
DB_UNAVAILABLE = ("Tjänsten når inte sin databas just nu. Försök igen om en stund. / "
                  "The service cannot reach its database right now; try again shortly.")


def database_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot be reached or is busy for now (a server down or
    restarting, a connection dropped, the pool exhausted, SQLite locked), not that the request is wrong.

    Follows the chain of causes: code that caught the first error and went on gets a ``PendingRollbackError``
    whose cause is the lost connection ("Can't reconnect until invalid transaction is rolled back")."""
    from sqlalchemy import exc as sa_exc

    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen and len(seen) < 10:
        seen.append(cur)
        if _one_unavailable(cur):
            return True
        if isinstance(cur, sa_exc.PendingRollbackError) and "Can't reconnect" in str(cur):
            return True  # the connection was invalidated (lost) inside the transaction
        cur = cur.__cause__ or cur.__context__
    return False


def _one_unavailable(exc: BaseException) -> bool:
    """:func:`database_unavailable` for one exception, without its causes."""
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, sa_exc.TimeoutError):  # no free connection in the pool
        return True
    orig = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        psycopg = None
    if psycopg is not None and isinstance(orig, (psycopg.OperationalError, psycopg.InterfaceError)):
        return True
    import sqlite3

    return isinstance(orig, sqlite3.OperationalError) and ("locked" in str(orig) or "busy" in str(orig))


def _database_unavailable_response(exc: Exception):
    """503 with ``Retry-After`` in the one error format; nothing in it needs the database."""
    from flask import current_app, g

    from apn.extensions import db, limiter, login_manager

    orig = getattr(exc, "orig", None) or exc
    # The class and SQLSTATE only: a failing statement's parameters may hold personal data.
    logger.warning("Database unavailable on %s %s: %s %s", request.method, request.path,
                   type(orig).__name__, getattr(orig, "sqlstate", None) or "")
    try:
        db.session.close()  # give the broken connection back; the pool replaces it (pool_pre_ping)
    except Exception:  # noqa: BLE001 - the outage is what matters
        logger.warning("closing the session failed during a database outage")
    g._login_user = login_manager.anonymous_user()  # the page must not load the user from the database
    try:  # Flask-Limiter would raise Retry-After to the end of its rate window (up to a minute)
        limiter.context.view_rate_limit = None
    except Exception:  # noqa: BLE001 - no limit in this request
        pass
    seconds = int(current_app.config.get("DB_RETRY_AFTER", DB_RETRY_AFTER))
    headers = {"Retry-After": str(seconds), "Cache-Control": "no-store"}
    try:
        return error_response(503, DB_UNAVAILABLE, None, headers)
    except Exception:  # noqa: BLE001 - a page part that still wanted the database: answer without it
        logger.warning("the 503 page could not be rendered; answering in plain text")
        resp = make_response(DB_UNAVAILABLE, 503)
        resp.mimetype = "text/plain"
        resp.headers.update(headers)
        return resp


#: SQLSTATE classes whose primary message names only objects (constraints, columns, tables), never values:
#: integrity violations, syntax and access rules, transaction rollback and state, operator intervention.
_SAFE_SQLSTATE_CLASSES = ("23", "42", "40", "25", "57")


def _database_error_summary(exc: BaseException) -> str | None:
    """What to log of a failing statement: the error class, SQLSTATE, constraint and table, a primary message
    that holds no values, and the SQL text. Never the parameters, never PostgreSQL's DETAIL ("Failing row
    contains …", "Key (pnr_hash)=(…)"), which carry names, birth dates, hashes and ciphertext.
    None when ``exc`` is no database error."""
    import sqlite3

    from sqlalchemy import exc as sa_exc

    if not isinstance(exc, sa_exc.StatementError):
        return None
    orig = exc.orig
    parts = [type(exc).__name__, type(orig).__name__ if orig is not None else "-"]
    sqlstate = getattr(orig, "sqlstate", None)
    diag = getattr(orig, "diag", None)
    if sqlstate:
        parts.append(f"SQLSTATE {sqlstate}")
    for label in ("constraint_name", "table_name", "column_name"):
        value = getattr(diag, label, None) if diag is not None else None
        if value:
            parts.append(f"{label.split('_')[0]} {value}")
    message = "(message withheld: it may hold values)"
    if sqlstate and sqlstate[:2] in _SAFE_SQLSTATE_CLASSES and diag is not None and diag.message_primary:
        message = diag.message_primary
    elif isinstance(orig, sqlite3.Error | OverflowError):
        message = str(orig).splitlines()[0] if str(orig) else message
    statement = " ".join(str(exc.statement or "").split())[:500]
    return f"{', '.join(parts)}: {message}; SQL: {statement}"


def log_unhandled(exc: BaseException) -> None:
    """Log an unexpected error with its traceback; a database error without its statement's parameters."""
    import traceback

    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in chain:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    summary = next((s for s in map(_database_error_summary, chain) if s is not None), None)
    if summary is None:
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return
    # Only the classes of the chain and the frames: the messages of a database error carry its values.
    frames = "".join(traceback.format_tb(exc.__traceback__))
    logger.error("Unhandled database error on %s %s: %s (%s)\nTraceback (frames only):\n%s",
                 request.method, request.path, summary, " <- ".join(type(e).__name__ for e in chain), frames)


#: Tables with a unique key that two requests can both try to store at once (a new card, facility, person,
#: session code, Idempotency-Key, …). The intake avoids these races at the source; this is the backstop.
RACED_TABLES = frozenset({"activity_group", "facility", "person", "partner_person", "activity_session",
                          "idempotency_key", "group_member", "attendance", "partner_authorisation"})
CONCURRENT_WRITE = ("En annan begäran ändrade samma uppgifter i samma stund. Skicka igen. / "
                    "Another request changed the same data at the same moment; send it again.")


def raced_unique_key(exc: BaseException) -> str | None:
    """The table of :data:`RACED_TABLES` whose unique key ``exc`` broke, or None for any other error."""
    import sqlite3

    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) == "23505":  # PostgreSQL unique_violation
        table = getattr(getattr(orig, "diag", None), "table_name", None)
    elif isinstance(orig, sqlite3.IntegrityError) and str(orig).startswith("UNIQUE constraint failed: "):
        table = str(orig).split(": ", 1)[1].split(".", 1)[0]
    else:
        return None
    return table if table in RACED_TABLES else None


def register(app: Flask) -> None:
    """Install the handlers."""
    from sqlalchemy import exc as sa_exc

    db_errors: list[type[Exception]] = [sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError,
                                        sa_exc.PendingRollbackError]
    try:
        import psycopg

        db_errors += [psycopg.OperationalError, psycopg.InterfaceError]
    except ImportError:  # pragma: no cover - psycopg is a dependency
        pass

    def _db_error(exc: Exception):
        if database_unavailable(exc):
            return _database_unavailable_response(exc)
        return _internal(exc)

    for cls in db_errors:
        app.register_error_handler(cls, _db_error)

    def _integrity(exc: sa_exc.IntegrityError):
        """A unique key a concurrent request stored first: 409 ``concurrent_write``; other violations are bugs."""
        table = raced_unique_key(exc)
        if table is None:
            return _internal(exc)
        from apn.extensions import db

        logger.info("A unique key of %s was stored by a concurrent request (%s %s)", table, request.method,
                    request.path)
        db.session.rollback()
        return error_response(409, CONCURRENT_WRITE, None, {"Retry-After": "1"}, error_code="concurrent_write")

    app.register_error_handler(sa_exc.IntegrityError, _integrity)

    @app.teardown_appcontext
    def _end_session(exc: BaseException | None) -> None:
        """End the request's database session before Flask-SQLAlchemy does: when the server went away after
        the answer was made, the closing ROLLBACK fails; drop the dead connection instead of turning a
        finished answer into a 500."""
        from apn.extensions import db

        try:
            db.session.remove()
        except Exception as err:
            if not database_unavailable(err):
                raise
            logger.warning("Database gone while ending a request's session: %s", type(err).__name__)
            with contextlib.suppress(Exception):
                db.session.registry().invalidate()
            db.session.registry.clear()

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        from apn.extensions import db

        db.session.rollback()
        return error_response(exc.status, exc.message, exc.errors(), error_code=exc.error_code)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if isinstance(exc, InternalServerError):
            return _internal(exc)
        data = getattr(exc, "data", None) or {}
        errors = data.get("messages") or data.get("errors")
        message = data.get("message") or exc.description or exc.name
        headers = dict(exc.get_headers()) if exc.code in (405, 429) else {}
        headers.pop("Content-Type", None)
        if exc.code == 429:
            headers["Retry-After"] = str(_retry_after_seconds())
        return error_response(exc.code or 500, message, errors, headers)

    @app.errorhandler(Exception)
    def _internal(exc: Exception):
        from apn.extensions import db

        log_unhandled(exc)
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001 - the original error is what matters
            logger.exception("rollback failed")
        return error_response(500, "Något gick fel hos oss. Felet är loggat. / Something went wrong on our side.")
