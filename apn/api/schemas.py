"""Marshmallow schemas of the REST API v1: every field described with an example for the OpenAPI document."""

from __future__ import annotations

import datetime as dt
import re

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from marshmallow.utils import missing as missing_

from apn.identity import normalise_key, normalise_number
from apn.inputs import MAX_INT, text_problem
from apn.models.session import SESSION_TYPES

KOD_DOC = "The partner's session code (DAK kod), 3–50 characters, unique within the partner integration."
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(:00)?$")


def clean_text(value: str, *, multiline: bool = False) -> None:
    """Refuse text that cannot be stored: control or bidi characters, or text that is not valid Unicode
    (the one check of every channel, :func:`apn.inputs.text_problem`)."""
    problem = text_problem(value, multiline=multiline)
    if problem:
        raise ValidationError(problem)


class BoundedInt(fields.Integer):
    """An integer from ``min`` to ``max`` (default 0 … 2**63-1, what a BIGINT column holds), as a JSON number
    or a string of ASCII digits; ``1e21``, ``"²"`` and other digits are refused with the field's name."""

    def __init__(self, *, min: int = 0, max: int = MAX_INT, **kw) -> None:  # noqa: A002 - marshmallow's words
        validators = [validate.Range(min, max)]
        extra = kw.pop("validate", None)
        if extra is not None:
            validators += list(extra) if isinstance(extra, list | tuple) else [extra]
        super().__init__(validate=validators, **kw)

    def _validated(self, value):
        if isinstance(value, str) and not re.fullmatch(r"\s*-?[0-9]{1,19}\s*", value):
            raise self.make_error("invalid")
        if isinstance(value, float) and not (value.is_integer() and abs(value) <= MAX_INT):
            raise self.make_error("invalid")
        try:
            return super()._validated(value)
        except OverflowError as exc:
            raise self.make_error("invalid") from exc


def Id(**kw) -> BoundedInt:  # noqa: N802 - reads as a field class
    """A database id: 1 … 2**63-1."""
    return BoundedInt(min=1, **kw)


class Text(fields.String):
    """A string with length limits, no control characters, surrounding white space removed."""

    def __init__(self, *, min_len: int = 0, max_len: int, multiline: bool = False, **kw) -> None:
        self.multiline = multiline
        validators = [validate.Length(min=min_len, max=max_len)]
        super().__init__(validate=validators, **kw)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        clean_text(text, multiline=self.multiline)
        return text.strip()


class NumberText(Text):
    """An identity number read as :func:`apn.identity.normalise_number` reads it (other Unicode digits,
    dashes, spaces and invisible characters folded) before its length is checked; the number's own check
    (:mod:`apn.identity`) refuses what is still not a digit, with the reason."""

    def _deserialize(self, value, attr, data, **kwargs):
        return normalise_number(super()._deserialize(value, attr, data, **kwargs))


class KeyText(Text):
    """A partner's key (session code, card number, person id) in its comparable form
    (:func:`apn.identity.normalise_key`), so that ``Ｓ-１`` and ``S-1`` are the same session."""

    def _deserialize(self, value, attr, data, **kwargs):
        return normalise_key(super()._deserialize(value, attr, data, **kwargs))


class ClockTime(fields.String):
    """A wall-clock time ``HH:MM`` (loaded as :class:`datetime.time`)."""

    def __init__(self, **kw) -> None:
        metadata = {"pattern": r"^([01]\d|2[0-3]):[0-5]\d$", **kw.pop("metadata", {})}
        super().__init__(metadata=metadata, **kw)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        m = _TIME_RE.match(text)
        if not m:
            raise ValidationError("must be a time HH:MM, 00:00–23:59")
        return dt.time(int(m.group(1)), int(m.group(2)))

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.strftime("%H:%M") if isinstance(value, dt.time) else str(value)


def _orgnr(**kw):
    return NumberText(min_len=10, max_len=13, metadata={
        "description": "The association's organisation number, 10 digits (a dash is accepted)",
        "example": "8020000017", **kw.pop("metadata", {})}, **kw)


# --- errors ---------------------------------------------------------------------------------------------


class ApiErrorSchema(Schema):
    """The one error format of the API."""

    code = fields.Integer(metadata={"description": "HTTP status code", "example": 422})
    status = fields.String(metadata={"description": "HTTP status name", "example": "Unprocessable Entity"})
    message = fields.String(metadata={"description": "What went wrong, in plain English",
                                      "example": "Unprocessable Entity"})
    errors = fields.Dict(metadata={
        "description": "Field-level messages by location (json, query, headers, path) and field name",
        "example": {"json": {"leaders": ["at least one leader"]}}})
    error_code = fields.String(metadata={
        "description": "A stable machine-readable reason where one is defined (period_closed, period_submitted, "
                       "period_decided, no_period, date_in_future; see the partner guide)",
        "example": "period_closed"})


class OAuthErrorSchema(ApiErrorSchema):
    """An OAuth2 token error (RFC 6749 §5.2) in the API's error format."""

    error = fields.String(metadata={"description": "OAuth2 error code", "example": "invalid_client",
                                    "enum": ["invalid_request", "invalid_client", "unsupported_grant_type"]})
    error_description = fields.String(metadata={"description": "Why, in plain English",
                                                "example": "unknown client or wrong secret"})


# --- token ----------------------------------------------------------------------------------------------


class TokenRequestSchema(Schema):
    """OAuth2 client-credentials grant (form-encoded). The client may also authenticate with HTTP Basic."""

    grant_type = fields.String(metadata={"description": "Always client_credentials",
                                         "example": "client_credentials"})
    client_id = fields.String(metadata={"description": "The partner's client id", "example": "apn_3f9c0a…"})
    client_secret = fields.String(metadata={"description": "The partner's secret (shown once at creation)",
                                            "example": "s3cr3t…"})
    scope = fields.String(metadata={"description": "Ignored: a token gives the partner's full access"})


class TokenSchema(Schema):
    """An access token for ``Authorization: Bearer``."""

    access_token = fields.String(metadata={"description": "Send as Authorization: Bearer <token>",
                                           "example": "eyJ0Ijo…"})
    token_type = fields.String(metadata={"description": "Always Bearer", "example": "Bearer"})
    expires_in = fields.Integer(metadata={"description": "Seconds the token stays valid", "example": 3600})


# --- associations, groups, people --------------------------------------------------------------------------


class AssociationSchema(Schema):
    """An association that authorised the partner."""

    organisationsnummer = fields.String(metadata={"description": "Organisation number, 10 digits",
                                                  "example": "8020000017"})
    name = fields.String(metadata={"description": "The association's name", "example": "IFK Exempel"})


class GroupInSchema(Schema):
    """An attendance card / group, keyed by the partner's card number in the URL."""

    name = Text(min_len=1, max_len=120, required=True,
                metadata={"description": "The card's name (NamnPaaKort)", "example": "P13 fotboll"})
    main_activity = Text(max_len=120, allow_none=True, metadata={"description": "Main activity",
                                                                 "example": "Fotboll"})
    facility = Text(max_len=120, allow_none=True, metadata={
        "description": "Main facility by name (created in the municipality's list when new)",
        "example": "Sporthallen"})
    usual_weekday = BoundedInt(min=0, max=6, allow_none=True, metadata={
        "description": "Usual weekday, 0 = Monday … 6 = Sunday", "example": 1})
    usual_start = ClockTime(allow_none=True, metadata={"description": "Usual start time", "example": "18:00"})
    usual_stop = ClockTime(allow_none=True, metadata={"description": "Usual stop time", "example": "19:30"})


class GroupSchema(GroupInSchema):
    """A group as stored."""

    card_number = fields.String(metadata={"description": "The partner's card number (NaervarokortNummer)",
                                          "example": "1042"})
    organisationsnummer = fields.String(metadata={"description": "The association's organisation number",
                                                  "example": "8020000017"})


class PersonInSchema(Schema):
    """A person, keyed by the partner's own person id in the URL; upserted by personnummer or name + birth date."""

    personnummer = NumberText(min_len=12, max_len=13, allow_none=True, metadata={
        "description": "Personal identity or coordination number, 12 digits YYYYMMDDNNNN",
        "example": "201205172305"})
    first_name = Text(min_len=1, max_len=50, required=True, metadata={"description": "First name",
                                                                       "example": "Alva"})
    last_name = Text(min_len=1, max_len=50, required=True, metadata={"description": "Last name",
                                                                      "example": "Berg"})
    birth_date = fields.Date(allow_none=True, metadata={
        "description": "Birth date; required without personnummer", "example": "2012-05-17"})
    sex = fields.String(allow_none=True, validate=validate.OneOf(["F", "M", "X"]), metadata={
        "description": "F, M or X; derived from the personnummer when there is one", "example": "F"})

    @validates_schema
    def _identity(self, data, **kwargs):
        if not data.get("personnummer") and not data.get("birth_date"):
            raise ValidationError("give personnummer, or birth_date (with first and last name)",
                                  field_name="birth_date")


class PersonSchema(Schema):
    """A person as the partner sees it: the personal identity number masked."""

    person_id = fields.String(metadata={"description": "The partner's person id", "example": "p-4711"})
    first_name = fields.String(metadata={"example": "Alva"})
    last_name = fields.String(metadata={"example": "Berg"})
    birth_date = fields.Date(metadata={"example": "2012-05-17"})
    sex = fields.String(metadata={"example": "F"})
    personnummer = fields.String(allow_none=True, metadata={
        "description": "Masked: YYYYMMDD-****; null for people identified by name and birth date",
        "example": "20120517-****"})


# --- sessions ---------------------------------------------------------------------------------------------


class LeaderMarkSchema(Schema):
    """A leader at the session: the partner's person id, or the person inline."""

    person_id = KeyText(min_len=1, max_len=50, allow_none=True, metadata={
        "description": "The partner's person id (PUT …/people/{person_id} first, or give the person inline)",
        "example": "p-4711"})
    personnummer = NumberText(min_len=12, max_len=13, allow_none=True, metadata={
        "description": "Inline identity: personal identity number", "example": "198003030510"})
    first_name = Text(min_len=1, max_len=50, allow_none=True, metadata={"description": "Inline identity",
                                                                         "example": "Kim"})
    last_name = Text(min_len=1, max_len=50, allow_none=True, metadata={"description": "Inline identity",
                                                                        "example": "Ek"})
    birth_date = fields.Date(allow_none=True, metadata={"description": "Inline identity",
                                                        "example": "1980-03-03"})
    sex = fields.String(allow_none=True, validate=validate.OneOf(["F", "M", "X"]),
                        metadata={"description": "Inline identity: F, M or X", "example": "M"})
    present = fields.Boolean(load_default=True, metadata={"description": "Attended (Naervarande)",
                                                          "example": True})
    disability = fields.Boolean(load_default=False, metadata={"description": "Disability mark (Handikapp)",
                                                              "example": False})

    @validates_schema
    def _identity(self, data, **kwargs):
        if data.get("person_id") or data.get("personnummer"):
            return
        if not (data.get("first_name") and data.get("last_name") and data.get("birth_date")):
            raise ValidationError("give person_id, personnummer, or first_name, last_name and birth_date",
                                  field_name="person_id")


class ParticipantMarkSchema(LeaderMarkSchema):
    """A participant at the session."""

    temporary_leader = fields.Boolean(load_default=False, metadata={
        "description": "The participant led this session (TillfaelligLedare)", "example": False})


class MarkList(fields.List):
    """A list of attendance marks (``Nested``) with a fast path for the common, simple mark.

    A bulk request carries tens of thousands of marks, and marshmallow's per-field machinery costs about
    80 µs per mark. A mark whose keys are all text fields of the mark schema holding printable ASCII
    within their length limits, or boolean fields holding ``true``/``false``, and that names the person
    by ``person_id`` or ``personnummer``, is built directly into exactly what the schema would load
    (defaults included). Every other mark goes through the schema, so errors and less common but valid
    values (dates, ``null``, non-ASCII names, ``"true"``) behave exactly as before.
    """

    def __init__(self, schema: type[Schema], **kw) -> None:
        super().__init__(fields.Nested(schema), **kw)
        self._spec: dict[str, tuple] = {}
        self._defaults: dict = {}
        for name, fld in schema._declared_fields.items():
            if isinstance(fld, Text):
                length = next(v for v in fld.validators if isinstance(v, validate.Length))
                self._spec[name] = ("text", length.min or 0, length.max)
            elif isinstance(fld, fields.Boolean):
                self._spec[name] = ("bool",)
                if fld.load_default is not missing_:
                    self._defaults[name] = fld.load_default

    def _fast(self, mark) -> dict | None:
        if type(mark) is not dict:
            return None
        out = dict(self._defaults)
        for key, value in mark.items():
            spec = self._spec.get(key)
            if spec is None:
                return None
            if spec[0] == "bool":
                if type(value) is not bool:
                    return None
                out[key] = value
            else:
                if type(value) is not str or not (value.isascii() and value.isprintable()):
                    return None
                value = value.strip()
                if not spec[1] <= len(value) <= spec[2]:
                    return None
                out[key] = value
        if not (out.get("person_id") or out.get("personnummer")):
            return None
        return out

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is list:
            fast = [self._fast(m) for m in value]
            if all(m is not None for m in fast):
                return fast
        return super()._deserialize(value, attr, data, **kwargs)


_SESSION_FIELDS_DOC = {
    "date": "Date of the session (Datum)",
    "start_time": "Start time HH:MM (StartTid)",
    "stop_time": "Stop time HH:MM (StoppTid)",
    "stop_date": "Stop date when the session ends on a later date (StoppDatum)",
}


class SessionFieldsSchema(Schema):
    """The fields of a session, all optional here; the endpoints say which they require."""

    kod = KeyText(min_len=3, max_len=50, metadata={"description": KOD_DOC, "example": "S-2025-0001"})
    kommunkod = Text(min_len=4, max_len=4, allow_none=True, metadata={
        "description": "Optional check: the municipality code the partner believes the session belongs to; a "
                       "different municipality than the credentials' is refused", "example": "2480"})
    organisationsnummer = _orgnr()
    card_number = KeyText(min_len=1, max_len=50, metadata={
        "description": "The partner's card number of the group (PUT …/groups/{card_number} first)",
        "example": "1042"})
    date = fields.Date(metadata={"description": _SESSION_FIELDS_DOC["date"], "example": "2025-03-04"})
    start_time = ClockTime(metadata={"description": _SESSION_FIELDS_DOC["start_time"], "example": "18:00"})
    stop_time = ClockTime(metadata={"description": _SESSION_FIELDS_DOC["stop_time"], "example": "19:30"})
    stop_date = fields.Date(allow_none=True, metadata={"description": _SESSION_FIELDS_DOC["stop_date"],
                                                       "example": None})
    activity = Text(max_len=120, allow_none=True, metadata={"description": "Activity (Aktivitet)",
                                                            "example": "Fotboll"})
    facility = Text(max_len=120, allow_none=True, metadata={
        "description": "Facility by name (Lokal); created in the municipality's list when new",
        "example": "Sporthallen"})
    type = fields.String(validate=validate.OneOf(SESSION_TYPES), metadata={
        "description": "Traening, Match, Moete or Oevrigt (Typ)", "example": "Traening"})
    team_sport = fields.Boolean(metadata={"description": "Team sport (Lagidrott)", "example": True})
    participants = MarkList(ParticipantMarkSchema, validate=validate.Length(max=1000),
                               metadata={"description": "Participants (DeltagarLista), at most 1,000"})
    leaders = MarkList(LeaderMarkSchema, validate=validate.Length(max=200),
                          metadata={"description": "Leaders (LedarLista), at most 200; at least one leader "
                                                   "(or a participant marked temporary_leader) for a new "
                                                   "or replaced session"})


def _require(data: dict, names: tuple[str, ...]) -> None:
    errors = {n: ["Missing data for required field."] for n in names if data.get(n) in (None, "")}
    if errors:
        raise ValidationError(errors)


def has_leader(data: dict) -> bool:
    """A leader is listed, or a participant is marked as temporary leader."""
    return bool(data.get("leaders")) or any(p.get("temporary_leader") for p in data.get("participants") or [])


class SessionInSchema(SessionFieldsSchema):
    """Create or replace a whole session (DAK Add)."""

    ADD_REQUIRED = ("organisationsnummer", "card_number", "date", "start_time", "stop_time")

    @validates_schema
    def _complete(self, data, **kwargs):
        _require(data, self.ADD_REQUIRED)
        if not has_leader(data):
            raise ValidationError("at least one leader", field_name="leaders")


class SessionPatchSchema(Schema):
    """Attendance marks to apply to a stored session (DAK Update); marks not sent stay as they are."""

    participants = MarkList(ParticipantMarkSchema, validate=validate.Length(max=1000),
                               metadata={"description": "Participant marks to set"})
    leaders = MarkList(LeaderMarkSchema, validate=validate.Length(max=200),
                          metadata={"description": "Leader marks to set"})

    @validates_schema
    def _something(self, data, **kwargs):
        if not data.get("participants") and not data.get("leaders"):
            raise ValidationError("send at least one participant or leader mark", field_name="participants")


class BulkItemSchema(SessionFieldsSchema):
    """One session of a bulk request: a full session for add, marks for update, only kod for remove."""

    method = fields.String(load_default="add", validate=validate.OneOf(["add", "update", "remove"]),
                           metadata={"description": "add (create or replace, DAK Add), update (marks only, "
                                                    "DAK Update) or remove (DAK Remove)", "example": "add"})

    @validates_schema
    def _complete(self, data, **kwargs):
        _require(data, ("kod",))
        method = data.get("method", "add")
        if method == "add":
            _require(data, SessionInSchema.ADD_REQUIRED)
            if not has_leader(data):
                raise ValidationError("at least one leader", field_name="leaders")
        elif method == "update" and not data.get("participants") and not data.get("leaders"):
            raise ValidationError("send at least one participant or leader mark", field_name="participants")


class BulkRequestSchema(Schema):
    """Up to 5,000 sessions; each is accepted or refused on its own."""

    sessions = fields.List(fields.Nested(BulkItemSchema), required=True,
                           validate=validate.Length(min=1, max=5000),
                           metadata={"description": "1–5,000 sessions"})


class CountsSchema(Schema):
    """Present participants and present leaders of a session."""

    participations = fields.Integer(metadata={"description": "Present participants", "example": 18})
    leader_participations = fields.Integer(metadata={"description": "Present leaders and temporary leaders",
                                                     "example": 2})


class ClashNoteSchema(Schema):
    """A clash or double report found at intake, in words a reporter understands."""

    kind = fields.String(metadata={"description": "person_overlap, double_report, leader_overlap or "
                                                  "listed_twice. A clash in another municipality is never "
                                                  "reported here: the officers of both municipalities see it, "
                                                  "and the association learns of it from the officer's review",
                                   "example": "listed_twice"})
    status = fields.String(metadata={"description": "open or resolved", "example": "open"})
    message = fields.String(metadata={"example": "The same person is listed twice in the session; counted once."})
    message_sv = fields.String(allow_none=True, metadata={
        "description": "The message in Swedish",
        "example": "Samma person står två gånger på sammankomsten; räknas en gång."})


class MarkOutSchema(Schema):
    """A stored attendance mark."""

    person_id = fields.String(allow_none=True, metadata={
        "description": "The partner's person id (null if the partner never named this person)",
        "example": "p-4711"})
    present = fields.Boolean(metadata={"example": True})
    disability = fields.Boolean(metadata={"example": False})
    temporary_leader = fields.Boolean(metadata={"description": "Participants only", "example": False})


class SessionSchema(Schema):
    """A stored session as the partner sees it."""

    kod = fields.String(metadata={"description": KOD_DOC, "example": "S-2025-0001"})
    organisationsnummer = fields.String(metadata={"example": "8020000017"})
    card_number = fields.String(allow_none=True, metadata={"example": "1042"})
    date = fields.Date(metadata={"example": "2025-03-04"})
    start_time = ClockTime(metadata={"example": "18:00"})
    stop_time = ClockTime(metadata={"example": "19:30"})
    stop_date = fields.Date(allow_none=True, metadata={"example": None})
    activity = fields.String(allow_none=True, metadata={"example": "Fotboll"})
    facility = fields.String(allow_none=True, metadata={"example": "Sporthallen"})
    type = fields.String(metadata={"example": "Traening"})
    team_sport = fields.Boolean(metadata={"example": True})
    participants = fields.List(fields.Nested(MarkOutSchema))
    leaders = fields.List(fields.Nested(MarkOutSchema))
    counts = fields.Nested(CountsSchema)
    clashes = fields.List(fields.Nested(ClashNoteSchema))
    updated_at = fields.DateTime(metadata={"description": "Last change (UTC)",
                                           "example": "2025-03-05T06:00:00+00:00"})


class BulkAcceptedSchema(Schema):
    """A session of the batch that was stored."""

    index = fields.Integer(metadata={"description": "Position in the request's sessions list", "example": 0})
    kod = fields.String(metadata={"example": "S-2025-0001"})
    action = fields.String(metadata={"description": "created, replaced, updated or removed",
                                     "example": "created"})
    counts = fields.Nested(CountsSchema)
    clashes = fields.List(fields.Nested(ClashNoteSchema))


class BulkRefusedSchema(Schema):
    """A session of the batch that was refused; nothing of it was stored."""

    index = fields.Integer(metadata={"description": "Position in the request's sessions list", "example": 3})
    kod = fields.String(allow_none=True, metadata={"example": "S-2025-0004"})
    field = fields.String(allow_none=True, metadata={"description": "The field at fault",
                                                     "example": "participants[2].person_id"})
    reason = fields.String(metadata={"example": "unknown person_id p-99: PUT it first or give it inline"})
    code = fields.String(allow_none=True, metadata={
        "description": "A stable machine-readable reason where one is defined (period_closed, …)", "example": None})


class BulkTotalsSchema(Schema):
    """Counts of the whole batch."""

    received = fields.Integer(metadata={"example": 1000})
    accepted = fields.Integer(metadata={"example": 998})
    refused = fields.Integer(metadata={"example": 2})
    participations = fields.Integer(metadata={"description": "Present participants of accepted sessions",
                                              "example": 19960})
    leader_participations = fields.Integer(metadata={"example": 1996})


class BulkResultSchema(Schema):
    """What happened to each session of a bulk request."""

    accepted = fields.List(fields.Nested(BulkAcceptedSchema))
    refused = fields.List(fields.Nested(BulkRefusedSchema))
    totals = fields.Nested(BulkTotalsSchema)


class SessionListArgs(Schema):
    """Query of GET /sessions."""

    changed_since = Text(max_len=40, metadata={
        "description": "ISO 8601 date-time; only sessions created or changed at or after it (UTC if no offset)",
        "example": "2025-03-01T00:00:00Z"})
    cursor = Text(max_len=200, metadata={"description": "next_cursor of the previous page"})
    limit = BoundedInt(min=1, max=500, load_default=100,
                           metadata={"description": "Page size, 1–500", "example": 100})


class SessionPageSchema(Schema):
    """A page of sessions, oldest change first."""

    items = fields.List(fields.Nested(SessionSchema))
    next_cursor = fields.String(allow_none=True, metadata={
        "description": "Pass as cursor for the next page; null on the last page"})


class ExpectedGrantArgs(Schema):
    """Query of GET …/expected-grant."""

    period = Text(min_len=1, max_len=20, required=True, metadata={"description": "Grant period code",
                                                                  "example": "2025H1"})


class ClashListArgs(Schema):
    """Query of GET /clashes."""

    since = Text(max_len=40, metadata={"description": "ISO 8601 date-time; only flags raised at or after it",
                                    "example": "2025-03-01T00:00:00Z"})


class ClashFlagSchema(Schema):
    """A clash flag on one of the partner's sessions (nothing of other associations is shown)."""

    kind = fields.String(metadata={"example": "person_overlap"})
    kod = fields.String(allow_none=True, metadata={"description": "The partner's session code",
                                                   "example": "S-2025-0001"})
    person_id = fields.String(allow_none=True, metadata={"description": "The partner's person id, if known",
                                                         "example": "p-4711"})
    status = fields.String(metadata={"description": "open or resolved", "example": "open"})
    message = fields.String(metadata={
        "example": "This person is registered at a session of another association at the same time."})
    message_sv = fields.String(allow_none=True, metadata={
        "example": "Personen är samtidigt registrerad på en annan förenings sammankomst."})
    created_at = fields.DateTime(metadata={"example": "2025-03-05T06:00:00+00:00"})


class DakCountsSchema(Schema):
    """Sessions, participations and leader participations."""

    sessions = fields.Integer(metadata={"example": 1456})
    participations = fields.Integer(metadata={"example": 29120})
    leader_participations = fields.Integer(metadata={"example": 2300})


class DakRefusalSchema(Schema):
    """A refused session of the file, with its line."""

    line = fields.Integer(allow_none=True, metadata={"example": 812})
    kod = fields.String(allow_none=True, metadata={"example": "S-0042"})
    reason = fields.String(metadata={"example": "Datum: the grant period 2024H2 is closed"})
    code = fields.String(allow_none=True, metadata={
        "description": "A stable machine-readable reason where one is defined (period_closed, …)",
        "example": "period_closed"})


class DakResultSchema(Schema):
    """What the DAK file held and what was kept."""

    file = fields.Nested(DakCountsSchema)
    accepted = fields.Nested(DakCountsSchema)
    refused = fields.List(fields.Nested(DakRefusalSchema), metadata={
        "description": "The refused sessions in line order, at most the first 1,000"})
    refused_total = fields.Integer(metadata={"description": "How many sessions were refused in all",
                                             "example": 1})
