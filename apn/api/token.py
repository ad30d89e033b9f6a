"""``POST /api/v1/auth/token``: OAuth2 client credentials for partner systems."""

from __future__ import annotations

from flask import jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint

from apn.api.schemas import OAuthErrorSchema, TokenRequestSchema, TokenSchema
from apn.api.security import rate_limited
from apn.services import partners as partner_svc

PREFIX = "/auth"
blp = Blueprint("partner-token", __name__, description="Access tokens for partner systems (OAuth2 client credentials)")
rate_limited(blp)

_FORM = "application/x-www-form-urlencoded"


def _oauth_error(status: int, error: str, description: str):
    """An OAuth2 error (RFC 6749 §5.2) that is also in the API's one error format."""
    names = {400: "Bad Request", 401: "Unauthorized"}
    resp = jsonify({"code": status, "status": names[status], "message": description, "error": error,
                    "error_description": description})
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Basic realm="apn"'
    return resp


@blp.route("/token")
class Token(MethodView):
    @blp.doc(security=[], requestBody={"required": True, "content": {_FORM: {"schema": TokenRequestSchema}}},
             description="Send `grant_type=client_credentials`, `client_id` and `client_secret` form-encoded "
                         "(or the id and secret as HTTP Basic). Tokens expire after `expires_in` seconds; "
                         "get a new one then. Rotating the secret or revoking the client ends its tokens.")
    @blp.response(200, TokenSchema, example={"access_token": "eyJ0IjoxLCJjIjo…", "token_type": "Bearer",
                                             "expires_in": 3600})
    @blp.alt_response(400, schema=OAuthErrorSchema, description="invalid_request or unsupported_grant_type")
    @blp.alt_response(401, schema=OAuthErrorSchema, description="invalid_client: unknown client or wrong secret")
    @blp.alt_response(429, schema=OAuthErrorSchema, description="Too many requests; see Retry-After",
                      headers={"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}})
    def post(self):
        """Get an access token."""
        if request.mimetype != _FORM:
            return _oauth_error(400, "invalid_request", f"send the request form-encoded ({_FORM})")
        form = request.form
        grant = form.get("grant_type")
        if not grant:
            return _oauth_error(400, "invalid_request", "grant_type is missing")
        if grant != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "only grant_type=client_credentials is supported")
        client_id, secret = form.get("client_id"), form.get("client_secret")
        basic = request.authorization
        if basic is not None and basic.type == "basic":
            client_id, secret = basic.username, basic.password
        if not client_id or not secret:
            return _oauth_error(400, "invalid_request", "client_id and client_secret are required")
        client = partner_svc.authenticate(client_id, secret)
        if client is None:
            return _oauth_error(401, "invalid_client", "unknown client, wrong secret, or the client is revoked")
        token, ttl = partner_svc.issue_token(client)
        resp = jsonify({"access_token": token, "token_type": "Bearer", "expires_in": ttl})
        resp.headers["Cache-Control"] = "no-store"
        return resp
