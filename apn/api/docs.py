"""Pieces of the OpenAPI document shared by the API's operations: security, parameters, error responses."""

from __future__ import annotations

from http import HTTPStatus

from apn.api.idempotency import HEADER_DOC
from apn.api.security import BEARER

__all__ = ["BEARER", "CARD", "IDEMPOTENCY", "KOD", "ORGNR", "PERSON", "errors", "register"]

IDEMPOTENCY = HEADER_DOC

ORGNR = {"name": "orgnr", "in": "path", "required": True,
         "description": "The association's organisation number, 10 digits (NNNNNN-NNNN is accepted)",
         "schema": {"type": "string", "minLength": 10, "maxLength": 11, "example": "8020000017"}}
CARD = {"name": "card_number", "in": "path", "required": True,
        "description": "The partner's card number of the attendance card (DAK NaervarokortNummer)",
        "schema": {"type": "string", "minLength": 1, "maxLength": 50, "example": "1042"}}
PERSON = {"name": "person_id", "in": "path", "required": True,
          "description": "The partner's own id of the person (DAK register id), at most 50 characters",
          "schema": {"type": "string", "minLength": 1, "maxLength": 50, "example": "p-4711"}}
KOD = {"name": "kod", "in": "path", "required": True,
       "description": "The partner's session code (DAK kod), 3–50 characters, unique within the integration",
       "schema": {"type": "string", "minLength": 3, "maxLength": 50, "example": "S-2025-0001"}}

_DESCRIPTIONS = {
    400: "Bad request: the body is not valid JSON, or a header is malformed",
    401: "No, invalid, expired or revoked access token",
    403: "The association has not authorised this partner",
    404: "Unknown id (another municipality's data is unknown too)",
    409: "Conflicts with stored data: a grant period that is locked for the association (error_code "
         "period_closed, period_submitted or period_decided), a key that belongs to another association",
    413: "The body is too large",
    415: "Wrong Content-Type",
    422: "A field is missing or wrong; errors name the field",
}


def errors(*codes: int) -> dict:
    """Documented error responses, by status code, for ``blp.doc(responses=…)``."""
    return {code: ("RATE_LIMITED" if code == 429 else f"APN_{HTTPStatus(code).name}") for code in codes}


def register(spec) -> None:
    """Add the security scheme and the error responses to an app's OpenAPI document."""
    from apn.api.schemas import ApiErrorSchema as ErrorSchema

    spec.components.security_scheme("bearerAuth", {
        "type": "http", "scheme": "bearer",
        "description": "An access token from POST /api/v1/auth/token (OAuth2 client credentials)."})
    for code, description in _DESCRIPTIONS.items():
        spec.components.response(f"APN_{HTTPStatus(code).name}", {
            "description": description,
            "content": {"application/json": {"schema": ErrorSchema, "example": {
                "code": code, "status": HTTPStatus(code).phrase, "message": description}}}})
    spec.components.response("RATE_LIMITED", {
        "description": "Too many requests for this partner client; wait Retry-After seconds",
        "headers": {"Retry-After": {"description": "Seconds to wait before retrying",
                                    "schema": {"type": "integer", "example": 30}}},
        "content": {"application/json": {"schema": ErrorSchema, "example": {
            "code": 429, "status": "Too Many Requests", "message": "600 per 1 minute"}}}})
