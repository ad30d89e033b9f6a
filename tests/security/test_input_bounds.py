"""Odd input of every family gives a specific 4xx, never a 500 (issue 11, item 13).

The families: path ids beyond 64 bits or written with other digits, path text with control characters,
integer query arguments (``page=1e21``), control characters in query arguments (a newline in ``next``),
JSON nested thousands deep, and, per field, integers and text with NUL, C0, bidi overrides. The routes come
from ``app.url_map``, the API fields from the schemas the API loads; both databases (``APN_TEST_DB``).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import quote, urlencode

import pytest
from marshmallow import Schema, ValidationError, fields
from securityworld import build_world, sign_in
from werkzeug.datastructures import MultiDict
from werkzeug.routing import IntegerConverter, UnicodeConverter

from apn.api import schemas as api_schemas
from apn.inputs import MAX_INT, json_depth, text_problem

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
BAD_INT_SEGMENTS = ["100000000000000000000000", str(2**63), "0", "²", "1²", "١٢", "１２", "1e3"]
BAD_TEXT = ["a\x00b", "a\x01b", "a\x1bb", "a\x7fb", "a\x85b", "a\u202eb", "a\u2066b", "a\nb", "a\rb"]
BAD_INTS = [10**21, 1e21, 2**63, -(2**63) - 1, "²", "١", "１", "1e21", "100000000000000000000000", 1.5]
HUGE = "100000000000000000000000"
_ARG = re.compile(r"<(?:([^:<>]+):)?([^<>]+)>")


@pytest.fixture
def world(app):
    with app.app_context():
        return build_world()


def _rules(app):
    return [r for r in app.url_map.iter_rules() if r.endpoint != "static"]


def _url(rule, world, **override) -> str:
    def fill(m):
        name = m.group(2)
        value = override.get(name, world.args.get(name, 1))
        return quote(str(value), safe="")
    return _ARG.sub(fill, rule.rule)


def _methods(rule):
    return [m for m in METHODS if m in rule.methods]


def _open(client, world, method, url, **kw):
    headers = {**world.api_headers, **kw.pop("headers", {})} if url.startswith("/api/") else kw.pop("headers", {})
    return client.open(url, method=method, headers=headers, **kw)


def test_bounded_int_helpers():
    assert json_depth(b'{"a": [1, {"b": "[[[[[[[["}]}') == 3
    assert json_depth(b'"[[[[\\"[[["') == 0
    assert json_depth(b"[" * 1000) == 1000
    for value in BAD_TEXT:
        assert text_problem(value), repr(value)
    assert text_problem("a\tb\nc", multiline=True) is None
    assert text_problem("Åsa Öberg-Ñúñez 李") is None


def test_int_path_segments_beyond_bounds_are_404(app, client, world):
    """Every ``<int:…>`` of every route: beyond 64 bits, zero, other digits -> no match (404, or 405 where
    another method has the path); the largest id -> 4xx from the view."""
    sign_in(client, world.all_roles_email)
    probed = 0
    for rule in _rules(app):
        for name, conv in rule._converters.items():
            if not isinstance(conv, IntegerConverter):
                continue
            for method in _methods(rule):
                for bad in BAD_INT_SEGMENTS:
                    r = _open(client, world, method, _url(rule, world, **{name: bad}))
                    assert r.status_code in (404, 405), (method, rule.rule, name, bad, r.status_code)
                    probed += 1
                r = _open(client, world, method, _url(rule, world, **{name: MAX_INT}))
                assert 400 <= r.status_code < 500, (method, rule.rule, name, r.status_code)
    assert probed > 100


def test_text_path_segments_with_control_characters_are_4xx(app, client, world):
    """Every ``<…>`` string argument with NUL, C0, C1 or bidi characters: 404; a bad %-escape: 4xx."""
    sign_in(client, world.all_roles_email)
    probed = 0
    for rule in _rules(app):
        for name, conv in rule._converters.items():
            if not isinstance(conv, UnicodeConverter):
                continue
            for method in _methods(rule):
                for bad in BAD_TEXT:
                    r = _open(client, world, method, _url(rule, world, **{name: bad}))
                    assert r.status_code in (404, 405), (method, rule.rule, name, bad, r.status_code)
                    probed += 1
                url = _url(rule, world, **{name: "x"}).replace("/x", "/%ED%A0%80x", 1)
                r = _open(client, world, method, url)
                assert r.status_code < 500, (method, url, r.status_code)
    assert probed > 50


@pytest.mark.parametrize("query", [
    {"page": "1e21"}, {"page": HUGE}, {"page": "²"}, {"page": "0"}, {"page": "-3"}, {"page": "١"},
])
def test_integer_query_arguments_are_bounded(client, world, query):
    sign_in(client, world.all_roles_email)
    url = f"/k/{world.slug}/associations/{world.args['association_id']}/sessions?{urlencode(query)}"
    r = client.get(url, headers={"Accept": "application/json"})
    assert r.status_code == 400, r.status_code
    assert "page" in r.get_json()["errors"]["query"]


def test_control_characters_in_query_arguments_are_400_on_every_route(app, client, world):
    """Every route, every method: a newline in ``next``, NUL in a page number or an unknown argument."""
    sign_in(client, world.all_roles_email)
    for rule in _rules(app):
        for method in _methods(rule):
            for query in ("next=%2F%0A%2Fevil.example", "page=1%00", "x=%E2%80%AE", "period=%01"):
                r = _open(client, world, method, f"{_url(rule, world)}?{query}",
                          headers={"Accept": "application/json"})
                assert r.status_code == 400, (method, rule.rule, query, r.status_code)
                assert r.get_json()["errors"]["query"], (rule.rule, query)
    r = client.get("/login?next=/%0d%0aSet-Cookie:%20x=1")
    assert r.status_code == 400


def test_control_characters_in_headers_and_basic_credentials_are_400(client, world):
    r = client.post("/api/v1/auth/token", data={"grant_type": "client_credentials"},
                    headers={"Authorization": "Basic " + __import__("base64").b64encode(b"apn\x00x:s").decode()})
    assert r.status_code == 400
    r = client.put("/api/v1/sessions/S-1", json={}, headers={**world.api_headers, "Idempotency-Key": "abc\x00defgh"})
    assert r.status_code == 400 and "Idempotency-Key" in r.get_json()["errors"]["headers"]


def test_json_nested_thousands_deep_is_400_on_every_write(app, client, world):
    """Before the body is parsed, on every POST/PUT/PATCH/DELETE route, whatever the content type says."""
    sign_in(client, world.all_roles_email)
    deep = b"[" * 50_000 + b"]" * 50_000
    objects = b'{"a":' * 20_000 + b"1" + b"}" * 20_000
    probed = 0
    for rule in _rules(app):
        for method in _methods(rule):
            if method == "GET":
                continue
            for body in (deep, objects):
                for ctype in ("application/json", "text/plain"):
                    r = _open(client, world, method, _url(rule, world), data=body, content_type=ctype)
                    assert 400 <= r.status_code < 500, (method, rule.rule, ctype, r.status_code)
                    probed += 1
    assert probed > 20
    r = client.post("/api/v1/sessions/bulk", data=deep, content_type="application/json",
                    headers=world.api_headers)
    assert r.status_code == 400 and "_body" in r.get_json()["errors"]["json"]


# --- fields of the schemas the API and the app load ---------------------------------------------------------

def _loaded_schemas(app) -> list[type[Schema]]:
    """Every schema a route loads, with the schemas nested in them."""
    from apn.web.leader import AppSessionSchema

    found: list[type[Schema]] = [api_schemas.BulkRequestSchema, AppSessionSchema]
    for fn in app.view_functions.values():
        cls = getattr(fn, "view_class", None)
        for method in METHODS:
            meth = getattr(cls, method.lower(), None) if cls else None
            for p in getattr(meth, "_apidoc", {}).get("arguments", {}).get("parameters", []):
                schema = p["schema"]
                found.append(schema if isinstance(schema, type) else type(schema))
    out: list[type[Schema]] = []
    while found:
        s = found.pop()
        if s in out:
            continue
        out.append(s)
        for fld in s._declared_fields.values():
            inner = fld.inner if isinstance(fld, fields.List) else fld
            if isinstance(inner, fields.Nested):
                nested = inner.nested
                found.append(nested if isinstance(nested, type) else type(nested))
    return out


def _field_errors(schema: Schema, name: str, value) -> list[str]:
    try:
        schema.load({name: value}, partial=True)
    except ValidationError as exc:
        return exc.messages.get(name, []) if isinstance(exc.messages, dict) else []
    return []


def test_every_loaded_integer_field_is_bounded(app):
    checked = 0
    for cls in _loaded_schemas(app):
        schema = cls()
        for name, fld in schema.fields.items():
            if fld.dump_only:
                continue
            inner = fld.inner if isinstance(fld, fields.List) else fld
            if not isinstance(inner, fields.Integer):
                continue
            assert isinstance(inner, api_schemas.BoundedInt), f"{cls.__name__}.{name} is an unbounded integer"
            for bad in BAD_INTS:
                value = [bad] if inner is not fld else bad
                assert _field_errors(schema, name, value), (cls.__name__, name, bad)
                checked += 1
    assert checked >= 20


def test_every_loaded_text_field_refuses_control_characters(app):
    checked = 0
    for cls in _loaded_schemas(app):
        schema = cls()
        for name, fld in schema.fields.items():
            if fld.dump_only or not isinstance(fld, fields.String) or fld.validators and any(
                    type(v).__name__ == "OneOf" for v in fld.validators):
                continue
            for bad in BAD_TEXT:
                if getattr(fld, "multiline", False) and bad in ("a\nb", "a\rb"):
                    continue
                errors = _field_errors(schema, name, bad)
                assert errors, (cls.__name__, name, repr(bad))
                checked += 1
    assert checked >= 100


def test_api_answers_control_characters_naming_the_field(client, world):
    h = world.api_headers
    base = f"/api/v1/associations/{world.orgnr}"
    for bad in ("Al\x00va", "Al\u202eva", "Al\x01va"):
        r = client.put(f"{base}/groups/1042", json={"name": bad}, headers=h)
        assert r.status_code == 422 and "name" in r.get_json()["errors"]["json"], (bad, r.status_code)
        r = client.put(f"{base}/people/p-1", json={"first_name": bad, "last_name": "Berg",
                                                   "birth_date": "2012-05-17"}, headers=h)
        assert r.status_code == 422 and "first_name" in r.get_json()["errors"]["json"], (bad, r.status_code)
    assert client.put(f"{base}/groups/1042", json={"name": "P13"}, headers=h).status_code in (200, 201)
    body = {"organisationsnummer": world.orgnr, "card_number": "1042", "date": "2025-03-04",
            "start_time": "18:00", "stop_time": "19:30",
            "leaders": [{"first_name": "Kim\x00", "last_name": "Ek", "birth_date": "1980-03-03"}]}
    r = client.post("/api/v1/sessions/bulk", json={"sessions": [{**body, "kod": "S-9"}]}, headers=h)
    assert r.status_code == 200
    refused = r.get_json()["refused"]
    assert refused and "first_name" in refused[0]["field"], refused


# --- web forms: every field of every form the pages show ------------------------------------------------------

class _Forms(HTMLParser):
    """The POST forms of a page: action and fields (name, type, value)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "method": (a.get("method") or "get").lower(),
                               "fields": []})
        elif tag in ("input", "select", "textarea") and self.forms and a.get("name"):
            self.forms[-1]["fields"].append((a["name"], a.get("type") or tag, a.get("value") or ""))


def _forms_of(client, urls) -> list[dict]:
    seen: dict[tuple, dict] = {}
    for url in urls:
        r = client.get(url)
        if r.status_code != 200 or "text/html" not in r.content_type:
            continue
        parser = _Forms()
        parser.feed(r.get_data(as_text=True))
        for form in parser.forms:
            if form["method"] == "post":
                form["action"] = form["action"] or url
                seen.setdefault((form["action"], tuple(n for n, *_ in form["fields"])), form)
    return list(seen.values())


def _post_each_field(client, form, values, *, text_only: bool) -> list[tuple]:
    """Post the form once per (field, value); returns (field, value, status) for each."""
    out = []
    base = [(n, v) for n, t, v in form["fields"] if t not in ("file", "submit", "checkbox")]
    for name, ftype, _v in form["fields"]:
        if name == "csrf_token" or ftype in ("file", "submit", "hidden") or (
                text_only and ftype not in ("text", "email", "search", "tel", "input")):
            continue
        for value in values:
            data = [(n, v) for n, v in base if n != name] + [(name, value)]
            r = client.post(form["action"], data=MultiDict(data))
            out.append((form["action"], name, value, r.status_code))
    return out


def _page_urls(app, world) -> list[str]:
    return [_url(r, world) for r in _rules(app) if "GET" in r.methods and not r.arguments - set(world.args)]


def test_every_form_field_refuses_control_characters_and_survives_odd_integers(app, client, world):
    sign_in(client, world.all_roles_email)
    forms = _forms_of(client, _page_urls(app, world))
    forms = [f for f in forms if not f["action"].endswith("/logout")]
    assert len(forms) >= 6, [f["action"] for f in forms]
    text_results = []
    for form in forms:
        text_results += _post_each_field(client, form, BAD_TEXT, text_only=True)
        for action, name, value, status in _post_each_field(client, form, [HUGE, "²", "1e21", "-1"],
                                                            text_only=False):
            assert status < 500, (action, name, value, status)
    assert len(text_results) >= 30
    for action, name, value, status in text_results:
        assert 400 <= status < 500, (action, name, repr(value), status)
    with client.session_transaction() as s:
        s.clear()
    for form in _forms_of(client, ["/login", "/password/forgot"]):
        for action, name, value, status in _post_each_field(client, form, BAD_TEXT, text_only=True):
            assert 400 <= status < 500, (action, name, repr(value), status)


def test_leader_form_refuses_odd_ids_and_control_characters_naming_the_field(client, world):
    sign_in(client, world.emails["reporter"])
    url = f"/k/{world.slug}/leader/groups/{world.args['group_id']}"
    base = {"date": "2025-03-04", "start": "18:00", "stop": "19:30", "type": "Traening",
            "l": str(world.args["person_id"])}
    for extra in ({"facility": HUGE}, {"facility": "²"}, {"facility": "x"}):  # refused, naming the field
        r = client.post(url, data={**base, **extra})
        assert 400 <= r.status_code < 500 and "facility" in r.get_data(as_text=True), (extra, r.status_code)
    for extra in ({"p": HUGE}, {"p": "²"}, {"dis": HUGE}, {"tl": "١"}):  # checkbox values that are no id
        r = client.post(url, data={**base, **extra})
        assert r.status_code < 500, (extra, r.status_code)
    for bad in BAD_TEXT:
        r = client.post(url, data={**base, "new_pnr": "", "new_first": bad, "new_last": "Berg",
                                   "new_birth": "2012-05-17", "new_sex": "F"})
        assert 400 <= r.status_code < 500, (repr(bad), r.status_code)


def test_app_json_refuses_odd_ids_and_control_characters(client, world):
    sign_in(client, world.emails["reporter"])
    url = f"/k/{world.slug}/app/sessions"
    base = {"group_id": world.args["group_id"], "date": "2025-03-04", "start": "18:00", "stop": "19:30",
            "leaders": [world.args["person_id"]]}
    cases = [("group_id", 10**24), ("group_id", "²"), ("facility_id", 10**21), ("facility_id", 1e21),
             ("present", [10**30]), ("present", ["١"]),
             ("new_people", [{"first_name": "A\x00", "last_name": "B", "birth_date": "2012-05-17"}]),
             ("new_people", [{"first_name": "A\u202e", "last_name": "B", "birth_date": "2012-05-17"}])]
    for i, (name, value) in enumerate(cases):
        r = client.post(url, json={**base, name: value}, headers={"Idempotency-Key": f"key-{i:08d}"})
        assert r.status_code == 422, (name, value, r.status_code, r.get_data()[:200])
        assert name in r.get_json()["errors"]["json"], (name, r.get_json())


# --- deep JSON in every encoding json.loads detects; UTF-8 in header values ----------------------------------

def _encodings(text: str) -> dict[str, bytes]:
    """``text`` in every encoding :func:`json.loads` detects on bytes (BOM or the pattern of NUL bytes)."""
    return {"utf-8-bom": b"\xef\xbb\xbf" + text.encode(), "utf-16-le": text.encode("utf-16-le"),
            "utf-16-be": text.encode("utf-16-be"), "utf-16-bom": text.encode("utf-16"),
            "utf-32-le": text.encode("utf-32-le"), "utf-32-be": text.encode("utf-32-be"),
            "utf-32-bom": text.encode("utf-32")}


def test_deep_json_in_any_detected_encoding_is_400_on_every_write(app, client, world):
    """A BOM or UTF-16/32 in front of 50,000 brackets: refused before any parser sees it, on every route."""
    sign_in(client, world.all_roles_email)
    bodies = {**_encodings("[" * 50_000 + "]" * 50_000), **{
        f"objects-{k}": v for k, v in _encodings('{"a":' * 20_000 + "1" + "}" * 20_000).items()}}
    probed = 0
    for rule in _rules(app):
        for method in _methods(rule):
            if method == "GET":
                continue
            for name, body in bodies.items():
                for ctype in ("application/json", "text/plain"):
                    r = _open(client, world, method, _url(rule, world), data=body, content_type=ctype)
                    assert 400 <= r.status_code < 500, (method, rule.rule, name, ctype, r.status_code)
                    probed += 1
    assert probed > 100


@pytest.mark.parametrize("ctype", ["text/plain", "application/json", "application/octet-stream"])
def test_app_endpoint_answers_400_for_deep_or_broken_json_in_any_encoding(client, world, ctype):
    """The app endpoint parses any body (as json.loads would): deep JSON in every detected encoding, and
    text that is not JSON, are a 400 naming the body; a shallow body in UTF-16 is read as JSON."""
    sign_in(client, world.emails["reporter"])
    url = f"/k/{world.slug}/app/sessions"
    bad = list(_encodings("[" * 50_000 + "]" * 50_000).values()) + [
        b"\xef\xbb\xbf" + b"[" * 5_000, b"{not json", b"\xff\xfe\x00", "[" * 40 + "]" * 40]
    for i, body in enumerate(bad):
        r = client.post(url, data=body, content_type=ctype,
                        headers={"Idempotency-Key": f"deep-{ctype}-{i:04d}", "Accept": "application/json"})
        assert r.status_code == 400, (i, ctype, r.status_code, r.get_data()[:200])
        assert "_body" in r.get_json()["errors"]["json"], r.get_json()
    base = {"group_id": world.args["group_id"], "date": "2025-03-04", "start": "18:00", "stop": "19:30",
            "leaders": [world.args["person_id"]], "present": [10**30]}
    for i, body in enumerate(_encodings(__import__("json").dumps(base)).values()):
        r = client.post(url, data=body, content_type=ctype,
                        headers={"Idempotency-Key": f"ok-{ctype}-{i:04d}", "Accept": "application/json"})
        assert r.status_code == 422 and "present" in r.get_json()["errors"]["json"], (i, r.status_code)


def _raw(value: str) -> str:
    """A header value as WSGI hands over the UTF-8 bytes a client sent: each byte one latin-1 character."""
    return value.encode("utf-8").decode("latin-1")


UTF8_HEADER_VALUES = ["Föreningsappen/ÅÄÖ", "Ärlig Åsa Öberg €5", "kod\tÅÄÖ€", "李 ü ß"]


def test_utf8_header_values_are_accepted_on_every_kind_of_route(client, world):
    """Raw UTF-8 in a header (bytes 0x80-0x9F included, as in € and Å) is ordinary text, not a C1 control."""
    urls = ["/", "/login", f"/k/{world.slug}/", "/api/v1/associations", f"/api/v1/associations/{world.orgnr}/groups"]
    for value in UTF8_HEADER_VALUES:
        for url in urls:
            headers = world.api_headers if url.startswith("/api/") else {}
            for header in ("HTTP_USER_AGENT", "HTTP_X_CLIENT_NAME", "HTTP_ACCEPT_LANGUAGE"):
                r = client.get(url, headers=headers, environ_overrides={header: _raw(value)})
                assert r.status_code < 400 or r.status_code in (401, 404) and url.startswith("/k/"), (
                    url, header, value, r.status_code, r.get_data()[:200])
            if url.startswith("/api/"):
                assert r.status_code == 200, (url, value, r.status_code)
    r = client.put(f"/api/v1/associations/{world.orgnr}/groups/1042", json={"name": "P13"},
                   headers=world.api_headers, environ_overrides={"HTTP_USER_AGENT": _raw("Klubbsystem/Åre €")})
    assert r.status_code in (200, 201), r.get_data()[:200]
    sign_in(client, world.all_roles_email)
    r = client.get("/", environ_overrides={"HTTP_USER_AGENT": _raw("Föreningsappen/ÅÄÖ")})
    assert r.status_code < 400, r.status_code


@pytest.mark.parametrize("value", ["a\x00b", "a\rb", "a\nb", "a\x01b", "a\x1bb", "a\x7fb",
                                   _raw("a\x00Åb"), _raw("Å\u202eb"), _raw("Å\u0085b"), "a\x85b"])
def test_control_characters_in_header_values_are_still_refused(client, world, value):
    """NUL, CR, LF, other C0 controls and DEL, raw or next to UTF-8; C1 and bidi controls written in UTF-8;
    a lone C1 byte (not UTF-8): a 400 naming the header, on pages and the API alike."""
    for url, headers in (("/", {}), ("/api/v1/associations", world.api_headers)):
        r = client.get(url, headers={**headers, "Accept": "application/json"},
                       environ_overrides={"HTTP_USER_AGENT": value})
        assert r.status_code == 400, (url, repr(value), r.status_code)
        assert "User-Agent" in r.get_json()["errors"]["headers"], r.get_json()
