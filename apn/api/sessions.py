"""Sessions keyed by the partner's session code, with the DAK semantics; singly, in bulk, and as a change feed."""

from __future__ import annotations

from flask import jsonify
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import ValidationError

from apn.api import docs
from apn.api.associations import path_key
from apn.api.idempotency import idempotent
from apn.api.operations import Gateway, ItemRefusal, decode_cursor, parse_instant
from apn.api.schemas import (
    BulkItemSchema,
    BulkRequestSchema,
    BulkResultSchema,
    SessionInSchema,
    SessionListArgs,
    SessionPageSchema,
    SessionPatchSchema,
    SessionSchema,
)
from apn.api.security import current_partner_id, json_body, protect
from apn.errors import DomainError, Forbidden, NotFound
from apn.tenancy import require_tenant_id

PREFIX = "/sessions"
blp = Blueprint("partner-sessions", __name__,
                description="Sessions (sammankomster) keyed by the partner's session code (DAK kod): create or "
                            "replace (Add), patch attendance marks (Update), delete (Remove), in bulk, and a "
                            "change feed")
protect(blp)

MAX_BULK = 5000
_BULK_ITEM = BulkItemSchema()

SESSION_EXAMPLE = {
    "organisationsnummer": "8020000017", "card_number": "1042", "date": "2025-03-04", "start_time": "18:00",
    "stop_time": "19:30", "activity": "Fotboll", "facility": "Sporthallen", "type": "Traening",
    "team_sport": True,
    "participants": [{"person_id": "p-1", "present": True}, {"person_id": "p-2", "present": False},
                     {"first_name": "Alva", "last_name": "Berg", "birth_date": "2012-05-17", "sex": "F",
                      "present": True}],
    "leaders": [{"person_id": "l-1", "present": True}],
}


def gateway() -> Gateway:
    """The gateway for the authenticated partner in its tenant."""
    return Gateway(require_tenant_id(), current_partner_id())


def first_error(messages, prefix: str = "") -> tuple[str | None, str]:
    """The first field path and message of marshmallow's nested error messages."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                path = prefix or None
            elif isinstance(key, int):
                path = f"{prefix}[{key}]"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema":
                return path, first_error(value)[1]
            return first_error(value, path or "")
    if isinstance(messages, list) and messages:
        if all(isinstance(m, str) for m in messages):
            return (prefix or None), messages[0]
        return first_error(messages[0], prefix)
    return (prefix or None), str(messages)


def _raise(refusal: ItemRefusal) -> None:
    location = "path" if refusal.field == "kod" else "json"
    raise DomainError(refusal.reason, field=refusal.field, status=refusal.status, location=location,
                      error_code=refusal.code)


def _single(gw: Gateway, item: dict) -> tuple[dict, str]:
    result = gw.write_sessions([(0, item)])
    if result.refused:
        _raise(result.refused[0])
    accepted = result.accepted[0]
    if accepted.action == "removed":
        return {}, accepted.action
    view = gw.session_views([accepted.session_id], with_clashes=False)[accepted.session_id]
    # The intake's notes hold the clash check's flags on the session and what the intake itself noticed.
    view["clashes"] = accepted.clashes
    return view, accepted.action


def _session_for_read(gw: Gateway, kod: str) -> int:
    found = gw.sessions_by_kod({kod}).get(kod)
    if found is None:
        raise NotFound(f"no session with the code {kod}", field="kod", location="path")
    if found[1] not in gw.authorised_ids():
        raise Forbidden("the session's association has withdrawn its authorisation of this partner",
                        field="kod", location="path")
    return found[0]


@blp.route("")
class Sessions(MethodView):
    @blp.doc(security=docs.BEARER, responses=docs.errors(401, 422, 429),
             description="The partner's sessions in the associations that authorise it, ordered by the time of "
                         "their last change. Poll with changed_since and follow next_cursor until it is null. "
                         "Removed sessions are not listed.")
    @blp.arguments(SessionListArgs, location="query")
    @blp.response(200, SessionPageSchema)
    def get(self, args: dict):
        """List sessions changed since a time, a page at a time (cursor pagination)."""
        since = parse_instant(args["changed_since"], "changed_since") if args.get("changed_since") else None
        cursor = decode_cursor(args["cursor"]) if args.get("cursor") else None
        items, next_cursor = gateway().session_page(since, cursor, args["limit"])
        return {"items": items, "next_cursor": next_cursor}


@blp.route("/bulk")
class Bulk(MethodView):
    @idempotent
    @blp.doc(security=docs.BEARER, parameters=[docs.IDEMPOTENCY],
             requestBody={"required": True, "content": {"application/json": {
                 "schema": BulkRequestSchema,
                 "example": {"sessions": [{**SESSION_EXAMPLE, "kod": "S-2025-0001", "method": "add"},
                                          {"kod": "S-2025-0002", "method": "update",
                                           "participants": [{"person_id": "p-2", "present": True}]},
                                          {"kod": "S-2025-0003", "method": "remove"}]}}}},
             responses=docs.errors(400, 401, 413, 415, 422, 429),
             description="Each session is accepted or refused on its own: a partly bad batch keeps its good "
                         "part. A refusal names the index in the list, the kod, the field and the reason. A "
                         "session code may appear once per request.")
    @blp.response(200, BulkResultSchema)
    def post(self):
        """Create, replace, patch or remove up to 5,000 sessions in one request."""
        body = json_body()
        if not isinstance(body, dict):
            raise DomainError("send a JSON object {\"sessions\": [...]}", field="sessions")
        extra = sorted(set(body) - {"sessions"})
        if extra:
            raise DomainError("Unknown field.", field=str(extra[0]))
        sessions = body.get("sessions")
        if not isinstance(sessions, list):
            raise DomainError("must be a list of sessions", field="sessions")
        if not 1 <= len(sessions) <= MAX_BULK:
            raise DomainError(f"send 1–{MAX_BULK} sessions per request", field="sessions")
        items: list[tuple[int, dict]] = []
        refused: list[ItemRefusal] = []
        for index, raw in enumerate(sessions):
            kod = raw.get("kod") if isinstance(raw, dict) else None
            kod = kod if isinstance(kod, str) and len(kod) <= 50 else None
            if not isinstance(raw, dict):
                refused.append(ItemRefusal(index, None, None, "each session must be a JSON object"))
                continue
            try:
                items.append((index, _BULK_ITEM.load(raw)))
            except ValidationError as exc:
                fld, msg = first_error(exc.messages)
                refused.append(ItemRefusal(index, kod, fld, msg))
        result = gateway().write_sessions(items)
        result.refused.extend(refused)
        return jsonify(result.as_dict(len(sessions)))


@blp.route("/<kod>")
class SessionByKod(MethodView):
    @blp.doc(security=docs.BEARER, parameters=[docs.KOD], responses=docs.errors(401, 403, 404, 422, 429))
    @blp.response(200, SessionSchema)
    def get(self, kod: str):
        """Read a session by the partner's session code."""
        kod = path_key(kod, "kod", 50, 3)
        gw = gateway()
        sid = _session_for_read(gw, kod)
        return gw.session_views([sid])[sid]

    @idempotent
    @blp.doc(security=docs.BEARER, parameters=[docs.KOD, docs.IDEMPOTENCY],
             responses=docs.errors(400, 401, 403, 404, 409, 415, 422, 429),
             description="DAK Add: creates the session, or replaces it whole when the code exists. Needs at "
                         "least one leader (or a participant marked temporary_leader). A grant period that is "
                         "not open for the association (old or new date) gives 409 with its error_code; a date "
                         "in no grant period or after tomorrow 422; an association that has not authorised the "
                         "partner 403.")
    @blp.arguments(SessionInSchema, example=SESSION_EXAMPLE)
    @blp.response(200, SessionSchema, description="Replaced")
    @blp.alt_response(201, schema=SessionSchema, description="Created", success=True)
    def put(self, data: dict, kod: str):
        """Create or replace a whole session."""
        kod = path_key(kod, "kod", 50, 3)
        if data.get("kod") not in (None, kod):
            raise DomainError("the kod in the body differs from the one in the URL", field="kod")
        view, action = _single(gateway(), {**data, "kod": kod, "method": "add"})
        return view, 201 if action == "created" else 200

    @idempotent
    @blp.doc(security=docs.BEARER, parameters=[docs.KOD, docs.IDEMPOTENCY],
             responses=docs.errors(400, 401, 403, 404, 409, 415, 422, 429),
             description="DAK Update: sets the marks of the people sent (adding people not yet listed) and "
                         "leaves the others as they are.")
    @blp.arguments(SessionPatchSchema, example={"participants": [{"person_id": "p-2", "present": True}]})
    @blp.response(200, SessionSchema)
    def patch(self, data: dict, kod: str):
        """Apply attendance marks to a stored session."""
        kod = path_key(kod, "kod", 50, 3)
        view, _ = _single(gateway(), {**data, "kod": kod, "method": "update"})
        return view

    @idempotent
    @blp.doc(security=docs.BEARER, parameters=[docs.KOD, docs.IDEMPOTENCY],
             responses=docs.errors(401, 403, 404, 409, 422, 429),
             description="DAK Remove. A session in a grant period that is not open for the association "
                         "cannot be removed (409).")
    @blp.response(204, description="Removed")
    def delete(self, kod: str):
        """Remove a session."""
        kod = path_key(kod, "kod", 50, 3)
        _single(gateway(), {"kod": kod, "method": "remove"})
        return None
