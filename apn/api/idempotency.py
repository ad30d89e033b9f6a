"""``Idempotency-Key`` for every write of the API, and the one commit at the end of a write request.

The first successful response to a key is stored with a hash of the request (method, path, body) in the
same transaction as the write. The same key with the same request replays that response with the header
``Idempotent-Replayed: true``; the same key with another request is refused with 422. Failed requests
(4xx) are not stored, so a corrected request may reuse the key. Keys are per partner client.

The key is claimed (its row written) before the work, so a concurrent request with the same key waits on
the key's primary key (PostgreSQL's unique index, SQLite's single writer) until the first one ends, and
then replays its answer (or gets the 422) instead of doing the work a second time.
"""

from __future__ import annotations

import functools
import hashlib
import re

from flask import Response, current_app, make_response, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from apn.api.security import actor
from apn.errors import error_response
from apn.extensions import db
from apn.models import IdempotencyKey
from apn.tenancy import require_tenant_id

HEADER = "Idempotency-Key"
_KEY_RE = re.compile(r"^[\x21-\x7e]{1,200}$")

#: OpenAPI description of the header, added to every write operation.
HEADER_DOC = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": "Any string of 1–200 visible ASCII characters, unique per logical request. The same key "
                   "with the same request replays the first response (header Idempotent-Replayed: true); "
                   "the same key with a different request is refused with 422.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "example": "5f0c8a3e-2b7d-4c61-9a55"},
}


def _request_hash() -> str:
    h = hashlib.sha256()
    h.update(request.method.encode())
    h.update(b"\0")
    h.update(request.full_path.encode("utf-8", "surrogateescape"))
    h.update(b"\0")
    h.update(request.get_data(cache=True))
    return h.hexdigest()


def _stored(key: str) -> IdempotencyKey | None:
    return db.session.execute(select(IdempotencyKey).where(
        IdempotencyKey.actor == actor(), IdempotencyKey.key == key)).scalar_one_or_none()


def _replay(row: IdempotencyKey, digest: str) -> Response:
    if row.request_hash != digest:
        return error_response(422, "this Idempotency-Key was used for a different request; use a new key",
                              {"headers": {HEADER: ["used before with another method, path or body"]}})
    resp = current_app.response_class(row.response_body, status=row.response_status,
                                      mimetype="application/json")
    resp.headers["Idempotent-Replayed"] = "true"
    return resp


def idempotent(func):
    """Wrap a write view: honour ``Idempotency-Key`` and commit once when the view succeeds."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            resp = make_response(func(*args, **kwargs))
            if resp.status_code < 400:
                db.session.commit()
            return resp
        if not _KEY_RE.match(key):
            return error_response(400, "the Idempotency-Key must be 1–200 visible ASCII characters",
                                  {"headers": {HEADER: ["1–200 visible ASCII characters"]}})
        digest = _request_hash()
        row = _stored(key)
        if row is not None:
            return _replay(row, digest)
        claim = IdempotencyKey(tenant_id=require_tenant_id(), actor=actor(), key=key, method=request.method,
                               path=request.path[:300], request_hash=digest, response_status=0, response_body="")
        db.session.add(claim)
        try:
            db.session.flush()
        except IntegrityError:
            # A concurrent request with the same key claimed it first and has ended: answer as its repeat.
            db.session.rollback()
            row = _stored(key)
            if row is None:  # it failed and left the key free again
                return error_response(409, "a request with this Idempotency-Key was being handled; retry",
                                      {"headers": {HEADER: ["in progress"]}}, {"Retry-After": "1"})
            return _replay(row, digest)
        try:
            resp = make_response(func(*args, **kwargs))
        except BaseException:
            db.session.rollback()  # the claim goes with the failed work
            raise
        if resp.status_code >= 400:
            db.session.rollback()
            return resp
        claim.response_status = resp.status_code
        claim.response_body = resp.get_data(as_text=True)
        db.session.commit()
        return resp

    return wrapper
