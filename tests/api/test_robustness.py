"""Hostile and sloppy input: every answer is a specific 4xx in the one error format, never a 500."""

from __future__ import annotations

import json

from .gateway_helpers import put_group, session_body

BAD_BODIES = [
    b"{not json",
    b"\xff\xfe\x00garbage",
    b'{"name": "\xc3\x28"}',
    b"[" * 100_000 + b"]" * 100_000,
    b'{"name": NaN, "usual_weekday": Infinity}',
    b'{"name": "ok", "usual_weekday": 1e400}',
    b'{"name": "ok", "usual_weekday": 123456789012345678901234567890}',
    b'{"name": "a\\u0000b"}',
    b'{"name": "\\ud800"}',
    b'{"name": ["list"], "usual_start": 1800}',
    b'"just a string"',
    b"null",
    b"",
]


def _assert_error(r, statuses=(400, 413, 415, 422)):
    assert r.status_code in statuses, (r.status_code, r.get_data()[:300])
    body = r.get_json()
    assert body["code"] == r.status_code and body["message"]


def test_bad_bodies_are_4xx_on_every_write(client, partner):
    put_group(client, partner, "1")
    writes = (("put", f"/api/v1/associations/{partner.orgnr}/groups/1"),
              ("put", f"/api/v1/associations/{partner.orgnr}/people/p-1"),
              ("post", "/api/v1/sessions/bulk"), ("put", "/api/v1/sessions/ABC-1"),
              ("patch", "/api/v1/sessions/ABC-1"))
    for raw in BAD_BODIES:
        for method, url in writes:
            r = getattr(client, method)(url, data=raw, content_type="application/json", headers=partner.headers)
            _assert_error(r, (400, 404, 413, 415, 422))


def test_wrong_content_types_are_415(client, partner):
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        r = client.put(f"/api/v1/associations/{partner.orgnr}/groups/1", data=b'{"name": "x"}', content_type=ctype,
                       headers=partner.headers)
        _assert_error(r, (415,))
    r = client.post("/api/v1/dak", data=b"{}", content_type="application/json", headers=partner.headers)
    _assert_error(r, (415,))


def test_wrong_types_inside_sessions_are_field_errors(client, partner):
    put_group(client, partner, "1")
    body = session_body(partner=partner)
    weird = {
        "date": 20250304, "start_time": None, "stop_time": ["19:30"], "team_sport": "maybe", "type": 7,
        "participants": {"a": 1}, "leaders": [None], "stop_date": "0000-01-01", "activity": "x" * 121,
        "facility": {"n": 1}, "card_number": 1042, "kommunkod": "24800",
    }
    for key, value in weird.items():
        r = client.put("/api/v1/sessions/T-1", json={**body, key: value}, headers=partner.headers)
        _assert_error(r, (422,))
        assert r.get_json()["errors"]["json"], key
    for date in ("0001-01-01", "9999-12-31"):
        r = client.put("/api/v1/sessions/T-1", json={**body, "date": date}, headers=partner.headers)
        _assert_error(r, (422,))
        assert "out of range" in r.get_json()["errors"]["json"]["date"][0]
    bulk = {"sessions": [{**body, "kod": "T-2", "participants": [{"person_id": 5, "present": "x"}]},
                         {**body, "kod": 123}, {**body, "kod": "T-3", "date": 1e400}]}
    r = client.post("/api/v1/sessions/bulk", data=json.dumps(bulk).replace("1e+400", "1e400"),
                    content_type="application/json", headers=partner.headers)
    assert r.status_code == 200
    assert [x["field"] for x in r.get_json()["refused"]] == ["participants[0].person_id", "kod", "date"]


def test_odd_paths_and_queries(client, partner):
    h = partner.headers
    for url in ("/api/v1/sessions/%00%00%00", "/api/v1/sessions/" + "k" * 51, "/api/v1/sessions/%ED%A0%80xx",
                f"/api/v1/associations/{partner.orgnr}/groups/%01", "/api/v1/associations/%FF%FE/groups"):
        r = client.get(url, headers=h)
        _assert_error(r, (404, 422))
    for q in ({"limit": "x"}, {"limit": "-1"}, {"limit": "99999999999999999999999"},
              {"changed_since": "2025-99-01"}, {"changed_since": "0001-01-01T00:00:00+14:00"},
              {"cursor": "eyJ4Ijox"}, {"cursor": "W1siMjAyNSJdLCAiYSJd"}):
        _assert_error(client.get("/api/v1/sessions", query_string=q, headers=h), (422,))
    _assert_error(client.get("/api/v1/clashes", query_string={"since": "nope"}, headers=h), (422,))
    r = client.get(f"/api/v1/associations/{partner.orgnr}/expected-grant", headers=h)
    _assert_error(r, (422,))
    r = client.get(f"/api/v1/associations/{partner.orgnr}/expected-grant?period=1999H9", headers=h)
    _assert_error(r, (404,))


def test_wrong_methods_and_unknown_paths_are_json(client, partner):
    r = client.post("/api/v1/associations", headers=partner.headers)
    _assert_error(r, (405,))
    r = client.get("/api/v1/nothing-here", headers=partner.headers)
    _assert_error(r, (404,))


def test_too_large_body_is_413(app, client, partner):
    big = b'{"sessions": [' + b'{"kod": "xxx"},' * (app.config["MAX_CONTENT_LENGTH"] // 14) + b"{}]}"
    r = client.post("/api/v1/sessions/bulk", data=big, content_type="application/json", headers=partner.headers)
    _assert_error(r, (413,))
