"""Bulk writes: 1,000 sessions with good and bad items; the good part is kept, refusals say where and why."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from apn.extensions import db
from apn.models import ActivitySession, Attendance
from apn.tenancy import tenant_scope

from .gateway_helpers import put_group, session_body


def _people(client, partner, n: int) -> None:
    for i in range(n):
        r = client.put(f"/api/v1/associations/{partner.orgnr}/people/kid-{i}",
                       json={"first_name": "Kid", "last_name": f"Nr{i}", "birth_date": f"2012-02-{i % 28 + 1:02d}"},
                       headers=partner.headers)
        assert r.status_code in (200, 201)
    r = client.put(f"/api/v1/associations/{partner.orgnr}/people/leader-1",
                   json={"first_name": "Lea", "last_name": "Der", "birth_date": "1980-03-03"}, headers=partner.headers)
    assert r.status_code == 201


def _item(partner, i: int, day: dt.date) -> dict:
    return {"kod": f"B-{i:05d}", "method": "add", "organisationsnummer": partner.orgnr,
            "card_number": str(1 + i % 3), "date": day.isoformat(), "start_time": "17:00", "stop_time": "18:00",
            "type": "Traening",
            "participants": [{"person_id": f"kid-{(i + k) % 20}", "present": k != 0} for k in range(5)],
            "leaders": [{"person_id": "leader-1", "present": True}]}


BAD = {
    7: ("card_number", lambda it: it.update(card_number="404")),
    13: ("leaders", lambda it: it.update(leaders=[])),
    21: ("date", lambda it: it.update(date="2025-13-01")),
    33: ("participants[2].person_id", lambda it: it["participants"][2].update(person_id="ghost")),
    47: ("type", lambda it: it.update(type="Party")),
    59: ("organisationsnummer", lambda it: it.update(organisationsnummer="1234567890")),
    71: ("stop_time", lambda it: it.update(stop_time="05:00")),
    83: ("participants[0].personnummer", lambda it: it["participants"][0].update(
        person_id=None, personnummer="201205172384")),
}


def test_bulk_of_1000_keeps_the_good_part_and_names_the_bad(app, client, partner):
    for card in ("1", "2", "3"):
        put_group(client, partner, card)
    _people(client, partner, 20)
    day0 = dt.date.today() - dt.timedelta(days=40)
    items = []
    expected_bad = {}
    for i in range(1000):
        it = _item(partner, i, day0 + dt.timedelta(days=i % 30))
        # Spread the sessions so the same child is never at two sessions at once.
        slot = i // 30
        it["start_time"] = f"{6 + slot // 2:02d}:{slot % 2 * 30:02d}"
        it["stop_time"] = f"{6 + slot // 2:02d}:{slot % 2 * 30 + 20:02d}"
        bad = BAD.get(i % 100)
        if bad:
            bad[1](it)
            expected_bad[i] = bad[0]
        items.append(it)
    items.append({**items[0]})  # the same kod twice
    expected_bad[1000] = "kod"
    r = client.post("/api/v1/sessions/bulk", json={"sessions": items}, headers=partner.headers)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    refused = {x["index"]: x for x in body["refused"]}
    assert {i: x["field"] for i, x in refused.items()} == expected_bad
    assert all(refused[i]["kod"] == items[i]["kod"] and refused[i]["reason"] for i in refused)
    assert "first at index 0" in refused[1000]["reason"]
    assert len(body["accepted"]) == 1001 - len(expected_bad)
    assert body["totals"] == {"received": 1001, "accepted": len(body["accepted"]), "refused": len(expected_bad),
                              "participations": 4 * len(body["accepted"]),
                              "leader_participations": len(body["accepted"])}
    assert {a["action"] for a in body["accepted"]} == {"created"}
    assert all(a["counts"] == {"participations": 4, "leader_participations": 1} for a in body["accepted"])
    with app.app_context(), tenant_scope(partner.tenant_id):
        assert db.session.scalar(select(func.count()).select_from(ActivitySession)) == len(body["accepted"])
        assert db.session.scalar(select(func.count()).select_from(Attendance)) == 6 * len(body["accepted"])
        bad_kods = [items[i]["kod"] for i in expected_bad if i < 1000]
        assert db.session.scalar(select(func.count()).select_from(ActivitySession).where(
            ActivitySession.partner_code.in_(bad_kods))) == 0


def test_bulk_mixes_add_update_and_remove(app, client, partner):
    put_group(client, partner, "1")
    base = {k: v for k, v in session_body(partner=partner).items()}
    r = client.post("/api/v1/sessions/bulk", json={"sessions": [
        {**base, "kod": "M-1"}, {**base, "kod": "M-2", "start_time": "20:00", "stop_time": "21:00"}]},
        headers=partner.headers)
    assert [a["action"] for a in r.get_json()["accepted"]] == ["created", "created"]
    r = client.post("/api/v1/sessions/bulk", json={"sessions": [
        {"kod": "M-1", "method": "update", "participants": [{"person_id": "kid-0", "present": False}]},
        {"kod": "M-2", "method": "remove"},
        {"kod": "M-3", "method": "remove"},
        {"kod": "M-1x", "method": "update"},
        "not an object",
    ]}, headers=partner.headers)
    body = r.get_json()
    assert [(a["index"], a["action"], a["counts"]["participations"]) for a in body["accepted"]] == [
        (0, "updated", 2), (1, "removed", 0)]
    assert [(x["index"], x["field"]) for x in body["refused"]] == [(2, "kod"), (3, "participants"), (4, None)]
    assert client.get("/api/v1/sessions/M-2", headers=partner.headers).status_code == 404


def test_bulk_envelope_errors(client, partner):
    url = "/api/v1/sessions/bulk"
    assert client.post(url, json={"sessions": []}, headers=partner.headers).status_code == 422
    assert client.post(url, json=[1, 2], headers=partner.headers).status_code == 422
    assert client.post(url, json={"sessions": "x"}, headers=partner.headers).status_code == 422
    r = client.post(url, json={"sessions": [{}], "extra": 1}, headers=partner.headers)
    assert r.status_code == 422 and "extra" in r.get_json()["errors"]["json"]
    r = client.post(url, json={"sessions": [{"kod": "x"}] * 5001}, headers=partner.headers)
    assert r.status_code == 422
