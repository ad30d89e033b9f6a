"""Partner authentication for the REST API: bearer tokens, the tenant bound per request, the rate limit.

:func:`protect` installs on a blueprint: a body check (content type, parseable JSON), the bearer-token check
(signature and expiry, then the client must still be active with an unchanged secret) and the binding of
the token's tenant for the rest of the request. :func:`rate_limited` puts the blueprint under the shared
per-client limit ``API_RATE_LIMIT``.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

from flask import current_app, g, request
from flask_limiter.util import get_remote_address
from flask_smorest import Blueprint

from apn.errors import error_response
from apn.extensions import db, limiter
from apn.services import partners as partner_svc
from apn.tenancy import tenant_scope

logger = logging.getLogger(__name__)

#: Security requirement for the OpenAPI document of every protected operation.
BEARER = [{"bearerAuth": []}]

_JSON_TYPES = ("application/json",)


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer …`` header, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def token_claims() -> partner_svc.TokenClaims | None:
    """The verified claims of this request's bearer token (cached per request), or None."""
    if "apn_claims" not in g:
        token = bearer_token()
        g.apn_claims = partner_svc.read_token(token) if token else None
    return g.apn_claims


def rate_limit_key() -> str:
    """The rate-limit bucket: the partner client named by a valid token, else the caller's address."""
    claims = token_claims()
    if claims is not None:
        return f"partner:{claims.tenant_id}:{claims.partner_id}"
    return f"addr:{get_remote_address()}"


def _rate_limit_value() -> str:
    return current_app.config.get("API_RATE_LIMIT") or "600 per minute"


def rate_limited(blp: Blueprint) -> Blueprint:
    """Put every endpoint of ``blp`` under the one per-client budget of the API."""
    limiter.shared_limit(_rate_limit_value, scope="partner-api", key_func=rate_limit_key)(blp)
    return blp


def current_partner_id() -> int:
    """Row id of the authenticated partner client."""
    return int(g.apn_partner_id)


def actor() -> str:
    """The idempotency actor of the request: ``partner:<id>``."""
    return f"partner:{current_partner_id()}"


def unauthorised(message: str, error: str = "invalid_token"):
    """A 401 with the bearer challenge."""
    return error_response(401, message, headers={
        "WWW-Authenticate": f'Bearer realm="apn", error="{error}", error_description="{message}"'})


def check_body(*, allowed: tuple[str, ...] = _JSON_TYPES):
    """Refuse a write with a body of the wrong type or unparseable JSON (400/415); cache parsed JSON in g."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    # A form body may already have been read into request.form (the input guard looks for NUL in it), so
    # the declared length counts as a body too: a form sent to a JSON endpoint is a 415, not an empty body.
    data = request.get_data(cache=True)
    if not data and not request.content_length:
        return None
    mimetype = request.mimetype or ""
    if mimetype not in allowed and not (mimetype.endswith("+json") and "application/json" in allowed):
        return error_response(415, f"send the body as {' or '.join(allowed)}", {
            "headers": {"Content-Type": [f"must be {' or '.join(allowed)}"]}})
    if mimetype == "application/json" or mimetype.endswith("+json"):
        try:
            g.apn_json = json.loads(data.decode("utf-8")) if data else None
        except (ValueError, UnicodeDecodeError, RecursionError):
            return error_response(400, "the body is not valid JSON (UTF-8)", {"json": {"_body": [
                "Invalid JSON body."]}})
    return None


def json_body() -> Any:
    """The request's parsed JSON body (parsed once by :func:`check_body`)."""
    return g.get("apn_json")


def authenticate_request():
    """Check the bearer token and bind its tenant; returns an error response or None."""
    token = bearer_token()
    if token is None:
        return unauthorised("send Authorization: Bearer <access token> (POST /api/v1/auth/token)",
                            error="invalid_request")
    claims = token_claims()
    if claims is None:
        return unauthorised("the access token is invalid or expired; get a new one")
    stack = contextlib.ExitStack()
    stack.enter_context(tenant_scope(claims.tenant_id, db.session()))
    g.apn_scope = stack
    client = partner_svc.client_for_claims(claims)
    if client is None:
        return unauthorised("the access token is no longer valid (client revoked or secret rotated)")
    g.apn_partner_id = client.id
    g.apn_tenant_id = client.tenant_id
    g.apn_partner_name = client.name
    return None


def release_request(exc: BaseException | None = None) -> None:
    """Unbind the tenant bound by :func:`authenticate_request`."""
    stack = g.pop("apn_scope", None)
    if stack is None:
        return
    try:
        stack.close()
    except Exception:  # noqa: BLE001 - a failed transaction must not turn the answer into an error
        logger.warning("could not reset the tenant setting at request end", exc_info=True)


def protect(blp: Blueprint, *, body_types: tuple[str, ...] = _JSON_TYPES) -> Blueprint:
    """Require a partner token on every endpoint of ``blp``, bind its tenant, check write bodies."""

    @blp.before_request
    def _before():
        return authenticate_request() or check_body(allowed=body_types)

    blp.teardown_request(release_request)
    return rate_limited(blp)
