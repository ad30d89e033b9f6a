"""Bounds on every input: ids and integers, text without control characters, JSON nesting depth.

One set of checks for every channel. The API schemas (:mod:`apn.api.schemas`), the web forms
(:mod:`apn.web.forms`) and the hand-written parsers call :func:`text_problem` and :func:`parse_id`; the URL
converters below bound every ``<int:…>`` and ``<…>`` path segment; :func:`install` registers them and a
request guard that refuses, before any view runs,

* query arguments, header values and Basic credentials with control characters, and form fields with NUL
  (a 400 naming the field; each form refuses the other control characters next to its field),
* JSON bodies nested deeper than :data:`MAX_JSON_DEPTH` (a 400, checked before the body is parsed).

Integers that a database column cannot hold (beyond 64 bits), digits other than ASCII ``0-9`` (``²``, ``٣``)
and text PostgreSQL cannot store (NUL) therefore end as a 4xx, never as a 500 from the database.
"""

from __future__ import annotations

import json
import re
import unicodedata
from itertools import accumulate
from typing import Any

from flask import Flask, request
from werkzeug.routing import IntegerConverter, UnicodeConverter

#: Largest id or integer any column holds (PostgreSQL BIGINT; SQLite INTEGER is 64-bit as well).
MAX_INT = 2**63 - 1
#: Deepest JSON nesting accepted in a request body (the deepest real body, a bulk request, has 5 levels).
MAX_JSON_DEPTH = 32
#: Form fields that hold multi-line text (tab and line breaks allowed there). None today.
MULTILINE_FORM_FIELDS: frozenset[str] = frozenset()

#: Characters that reorder displayed text (bidirectional embeddings, overrides and isolates).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_MULTILINE_ALLOWED = frozenset("\t\n\r")
_ASCII_INT = re.compile(r"[0-9]{1,19}")


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why ``value`` cannot be stored as text, or None when it can.

    Refused: control characters (NUL, C0, DEL, C1; tab and line breaks only in ``multiline`` text),
    bidirectional override and isolate characters, and lone surrogates (not valid UTF-8).
    """
    if value.isprintable() and value.isascii():
        return None  # the common case, decided without looking at each character
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid UTF-8 text"
    for ch in value:
        if ch in BIDI_CONTROLS:
            return f"must not contain bidirectional control characters (U+{ord(ch):04X})"
        if unicodedata.category(ch) == "Cc" and not (multiline and ch in _MULTILINE_ALLOWED):
            return f"must not contain control characters (U+{ord(ch):04X})"
    return None


def parse_id(raw: Any) -> int | None:
    """An id (1 … 2**63-1) from a form value or JSON number written with ASCII digits, else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if 1 <= raw <= MAX_INT else None
    if not isinstance(raw, str):
        return None
    raw = raw.strip()
    if not _ASCII_INT.fullmatch(raw):
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_INT else None


def query_int(name: str, default: int, *, lo: int = 1, hi: int = MAX_INT) -> int:
    """The integer query argument ``name`` (ASCII digits, ``lo`` … ``hi``), ``default`` when absent or empty;
    anything else is a 400 naming the argument."""
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        return default
    raw = raw.strip()
    value = int(raw) if re.fullmatch(r"-?[0-9]{1,19}", raw) else None
    if value is None or not lo <= value <= hi:
        from apn.errors import DomainError

        raise DomainError(f"must be a whole number from {lo} to {hi}", field=name, status=400, location="query")
    return value


# --- URL converters --------------------------------------------------------------------------------------

class BoundedIntConverter(IntegerConverter):
    """``<int:…>``: ASCII digits only, 1 … 2**63-1 (unless the rule says otherwise); anything else is a 404."""

    regex = r"[0-9]+"

    def __init__(self, map, fixed_digits: int = 0, min: int | None = 1, max: int | None = MAX_INT,  # noqa: A002
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)
        if signed:
            self.regex = r"-?[0-9]+"

    def to_python(self, value: str) -> Any:
        if len(value.lstrip("-")) > 19:  # do not even convert a thousand-digit number
            from werkzeug.routing import ValidationError

            raise ValidationError()
        return super().to_python(value)


#: What a path segment may not contain: a slash, control characters (C0, DEL, C1), bidi controls.
_SEGMENT_CHARS = r"[^/\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"


class CleanStringConverter(UnicodeConverter):
    """``<…>`` and ``<string:…>``: one path segment without control or bidi characters (else a 404)."""

    def __init__(self, map, minlength: int = 1, maxlength: int | None = None, length: int | None = None) -> None:
        super().__init__(map, minlength=minlength, maxlength=maxlength, length=length)
        self.regex = _SEGMENT_CHARS + self.regex[len("[^/]"):]

    def to_python(self, value: str) -> str:
        if text_problem(value) is not None:  # e.g. a lone surrogate from a bad %-escape
            from werkzeug.routing import ValidationError

            raise ValidationError()
        return value


# --- JSON depth ------------------------------------------------------------------------------------------

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DEPTH_STEPS = bytes.maketrans(b"[]{}", b"\x01\xff\x01\xff")


def json_depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (brackets inside strings not counted)."""
    brackets = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    steps = memoryview(brackets.translate(_DEPTH_STEPS)).cast("b")
    return max(accumulate(steps))


def json_body_depth(data: bytes, *, declared: bool = False) -> int:
    """The nesting depth of a request body as :func:`json.loads` would read it, 0 when it is not JSON.

    The encoding is detected as :func:`json.loads` does on bytes (a BOM, or the NUL bytes of UTF-16/32), so
    a parser that reads any body (``get_json(force=True)``) never meets nesting this did not count. A body
    that does not decode, or (unless ``declared`` JSON) does not start with ``[`` or ``{``, is not JSON.
    """
    if not data:
        return 0
    encoding = json.detect_encoding(data)
    if encoding != "utf-8":  # a BOM, UTF-16 or UTF-32: count on the text re-encoded as UTF-8
        try:
            data = data.decode(encoding, "surrogatepass").encode("utf-8", "surrogatepass")
        except (UnicodeDecodeError, UnicodeEncodeError):
            return 0  # not text json.loads can read, so never parsed as JSON
    data = data.removeprefix(b"\xef\xbb\xbf")
    if not declared and data[:64].lstrip()[:1] not in (b"[", b"{"):
        return 0
    return json_depth(data)


# --- header values ---------------------------------------------------------------------------------------

def header_problem(value: str) -> str | None:
    """Why a header value is refused, or None.

    WSGI hands over header bytes as latin-1, so UTF-8 text (``Å`` is ``\\xc3\\x85``) arrives with characters
    that look like C1 controls. A value whose bytes are UTF-8 is checked as the text they spell, any other
    as latin-1: control characters (NUL, CR, LF, other C0, DEL, C1) and bidi controls refused, tab allowed.
    """
    try:
        value = value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass  # not UTF-8 bytes (or already text beyond latin-1): check the characters as they are
    return text_problem(value.replace("\t", " "))


# --- the request guard -----------------------------------------------------------------------------------

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _bad_request(location: str, field: str, reason: str):
    from apn.errors import error_response

    return error_response(400, f"{field}: {reason}", {location: {field: [reason]}})


def _guard():
    """Before any view: refuse control characters in query arguments, header values, Basic credentials and
    NUL in form fields (storage refuses it; each form refuses the other controls next to its field), and
    JSON nested too deep (checked before the body is parsed)."""
    for name, value in request.args.items(multi=True):
        problem = text_problem(name) or text_problem(value)
        if problem:
            return _bad_request("query", name if not text_problem(name) else "?", problem)
    for name, value in request.headers.items():
        problem = header_problem(value)
        if problem:
            return _bad_request("headers", name, problem)
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        for part in ("username", "password"):
            problem = text_problem(getattr(auth, part) or "")
            if problem:
                return _bad_request("headers", "Authorization", f"{part} {problem}")
    mimetype = request.mimetype or ""
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        if mimetype in _FORM_TYPES:
            for name, value in request.form.items(multi=True):
                if "\x00" in name or "\x00" in value:
                    return _bad_request("form", name.replace("\x00", "?"), "must not contain NUL characters")
        elif request.content_length != 0:
            declared = mimetype == "application/json" or mimetype.endswith("+json")
            if json_body_depth(request.get_data(cache=True), declared=declared) > MAX_JSON_DEPTH:
                return _bad_request("json", "_body", f"nested deeper than {MAX_JSON_DEPTH} levels")
    return None


def install(app: Flask) -> None:
    """Bound the URL converters (before any rule is added) and guard every request."""
    app.url_map.converters["int"] = BoundedIntConverter
    app.url_map.converters["default"] = CleanStringConverter
    app.url_map.converters["string"] = CleanStringConverter
    app.before_request(_guard)
