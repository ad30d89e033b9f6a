"""Every resource of the gateway: happy paths and the client mistakes each one answers with a specific 4xx."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from apn.extensions import db
from apn.models import ActivitySession, Attendance, Facility, GrantPeriod, Group, PartnerPerson, Person
from apn.tenancy import tenant_scope
from apn.testing.factories import make_pnr

from .gateway_helpers import put_group, session_body


def test_associations_lists_only_those_that_authorised_the_partner(client, partner):
    r = client.get("/api/v1/associations", headers=partner.headers)
    assert [a["organisationsnummer"] for a in r.get_json()] == [partner.orgnr]


def test_groups_put_creates_then_updates_and_lists(app, client, partner):
    url = f"/api/v1/associations/{partner.orgnr}/groups/1042"
    body = {"name": "P13 fotboll", "main_activity": "Fotboll", "facility": "Sporthallen", "usual_weekday": 1,
            "usual_start": "18:00", "usual_stop": "19:30"}
    r = client.put(url, json=body, headers=partner.headers)
    assert r.status_code == 201, r.get_json()
    assert r.get_json() == {**body, "card_number": "1042", "organisationsnummer": partner.orgnr}
    r = client.put(url, json={"name": "P14 fotboll", "facility": "sporthallen"}, headers=partner.headers)
    assert r.status_code == 200
    assert r.get_json()["name"] == "P14 fotboll" and r.get_json()["usual_weekday"] is None
    assert r.get_json()["facility"] == "Sporthallen"  # matched case-insensitively, not created twice
    listed = client.get(f"/api/v1/associations/{partner.orgnr}/groups", headers=partner.headers).get_json()
    assert [g["card_number"] for g in listed] == ["1042"]
    assert client.get(url, headers=partner.headers).get_json()["name"] == "P14 fotboll"
    with app.app_context(), tenant_scope(partner.tenant_id):
        assert db.session.scalar(select(func.count()).select_from(Facility)) == 1
        g = db.session.execute(select(Group)).scalar_one()
        assert g.partner_client_id == partner.partner_id and g.partner_card_number == "1042"


def test_group_errors(client, partner):
    base = f"/api/v1/associations/{partner.orgnr}/groups"
    r = client.put(f"{base}/1", json={"name": "", "usual_weekday": 9, "usual_start": "25:00"},
                   headers=partner.headers)
    assert r.status_code == 422
    errors = r.get_json()["errors"]["json"]
    assert set(errors) == {"name", "usual_weekday", "usual_start"}
    assert client.get(f"{base}/nope", headers=partner.headers).status_code == 404
    r = client.put(f"/api/v1/associations/{partner.other_orgnr}/groups/1", json={"name": "X"},
                   headers=partner.headers)
    assert r.status_code == 403
    assert r.get_json()["message"] == "the association has not authorised this partner"
    assert client.get("/api/v1/associations/123/groups", headers=partner.headers).status_code == 422


def test_people_upsert_masks_the_personnummer(app, client, partner):
    pnr = make_pnr(dt.date(2012, 5, 17), 23, female=True)
    url = f"/api/v1/associations/{partner.orgnr}/people/p-4711"
    r = client.put(url, json={"personnummer": pnr, "first_name": "Alva", "last_name": "Berg"},
                   headers=partner.headers)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body == {"person_id": "p-4711", "first_name": "Alva", "last_name": "Berg", "birth_date": "2012-05-17",
                    "sex": "F", "personnummer": "20120517-****"}
    assert pnr not in r.get_data(as_text=True)
    r = client.put(url, json={"personnummer": pnr, "first_name": "Alva", "last_name": "Berg-Ek"},
                   headers=partner.headers)
    assert r.status_code == 200 and r.get_json()["last_name"] == "Berg-Ek"
    r = client.put(f"/api/v1/associations/{partner.orgnr}/people/p-2",
                   json={"first_name": "Bo", "last_name": "Ek", "birth_date": "2011-02-03", "sex": "M"},
                   headers=partner.headers)
    assert r.status_code == 201 and r.get_json()["personnummer"] is None
    with app.app_context(), tenant_scope(partner.tenant_id):
        assert db.session.scalar(select(func.count()).select_from(Person)) == 2
        assert db.session.scalar(select(func.count()).select_from(PartnerPerson)) == 2


def test_people_errors(client, partner):
    base = f"/api/v1/associations/{partner.orgnr}/people"
    r = client.put(f"{base}/p1", json={"personnummer": "201205172384", "first_name": "A", "last_name": "B"},
                   headers=partner.headers)
    assert r.status_code == 422 and "check digit" in r.get_json()["errors"]["json"]["personnummer"][0]
    r = client.put(f"{base}/p1", json={"first_name": "A", "last_name": "B"}, headers=partner.headers)
    assert r.status_code == 422 and "birth_date" in r.get_json()["errors"]["json"]
    r = client.put(f"{base}/{'x' * 51}", json={"first_name": "A", "last_name": "B", "birth_date": "2010-01-01"},
                   headers=partner.headers)
    assert r.status_code == 422 and "person_id" in r.get_json()["errors"]["path"]


def test_session_put_get_patch_delete(app, client, partner):
    put_group(client, partner, "1")
    url = "/api/v1/sessions/S-0001"
    body = session_body(partner=partner, facility="Sporthallen")
    r = client.put(url, json=body, headers=partner.headers)
    assert r.status_code == 201, r.get_json()
    s = r.get_json()
    assert s["kod"] == "S-0001" and s["counts"] == {"participations": 3, "leader_participations": 1}
    assert s["facility"] == "Sporthallen" and s["card_number"] == "1"
    assert [p["person_id"] for p in s["participants"]] == ["kid-0", "kid-1", "kid-2"]
    assert s["leaders"] == [{"person_id": "leader-1", "present": True, "disability": False}]

    # Replace whole: one participant only, and by partner person id now that it is known.
    body2 = {**body, "participants": [{"person_id": "kid-1", "present": True}], "stop_time": "20:00"}
    r = client.put(url, json=body2, headers=partner.headers)
    assert r.status_code == 200 and r.get_json()["counts"]["participations"] == 1
    assert r.get_json()["stop_time"] == "20:00"

    # Patch: mark kid-1 absent, add kid-2 present; nothing else changes.
    r = client.patch(url, json={"participants": [{"person_id": "kid-1", "present": False},
                                                 {"person_id": "kid-2", "present": True}]},
                     headers=partner.headers)
    assert r.status_code == 200, r.get_json()
    got = {p["person_id"]: p["present"] for p in r.get_json()["participants"]}
    assert got == {"kid-1": False, "kid-2": True}
    assert r.get_json()["stop_time"] == "20:00"
    assert client.get(url, headers=partner.headers).get_json()["counts"]["participations"] == 1

    r = client.delete(url, headers=partner.headers)
    assert r.status_code == 204
    assert client.get(url, headers=partner.headers).status_code == 404
    assert client.delete(url, headers=partner.headers).status_code == 404
    with app.app_context(), tenant_scope(partner.tenant_id):
        assert db.session.scalar(select(func.count()).select_from(ActivitySession)) == 0
        assert db.session.scalar(select(func.count()).select_from(Attendance)) == 0


def test_session_put_errors_are_specific(app, client, partner):
    put_group(client, partner, "1")
    url = "/api/v1/sessions/S-0002"

    def put(**over):
        return client.put(url, json=session_body(partner=partner, **over), headers=partner.headers)

    r = put(leaders=[])
    assert r.status_code == 422 and r.get_json()["errors"]["json"] == {"leaders": ["at least one leader"]}
    r = put(card_number="999")
    assert r.status_code == 422 and "card_number" in r.get_json()["errors"]["json"]
    r = put(kommunkod="1384")
    assert r.status_code == 422 and "wrong municipality" in r.get_json()["errors"]["json"]["kommunkod"][0]
    assert put(kommunkod="2480").status_code == 201
    r = put(orgnr=partner.other_orgnr)
    assert r.status_code == 403
    r = put(date="2025-02-30", start_time="7pm", type="Party")
    assert r.status_code == 422
    assert set(r.get_json()["errors"]["json"]) == {"date", "start_time", "type"}
    r = put(stop_time="17:00")
    assert r.status_code == 422 and "stop_time" in r.get_json()["errors"]["json"]
    r = put(participants=[{"person_id": "ghost", "present": True}])
    assert r.status_code == 422
    assert "unknown person_id ghost" in r.get_json()["errors"]["json"]["participants[0].person_id"][0]
    r = put(participants=[{"personnummer": "201205172384", "present": True}])
    assert r.status_code == 422 and "participants[0].personnummer" in r.get_json()["errors"]["json"]
    r = put(kod="S-9999")
    assert r.status_code == 422 and "kod" in r.get_json()["errors"]["json"]
    r = put(colour="blue")
    assert r.status_code == 422 and r.get_json()["errors"]["json"] == {"colour": ["Unknown field."]}
    # A temporary leader is a leader for this session.
    r = put(leaders=[], participants=[{"person_id": "t", "first_name": "Tim", "last_name": "Ek",
                                       "birth_date": "2008-01-01", "temporary_leader": True}])
    assert r.status_code == 200 and r.get_json()["counts"] == {"participations": 0, "leader_participations": 1}


def test_closed_period_is_409(app, client, partner):
    put_group(client, partner, "1")
    day = dt.date.today() - dt.timedelta(days=3)
    r = client.put("/api/v1/sessions/S-0003", json=session_body(partner=partner, date=day.isoformat()),
                   headers=partner.headers)
    assert r.status_code == 201
    with app.app_context(), tenant_scope(partner.tenant_id):
        for gp in db.session.execute(select(GrantPeriod)).scalars():
            if gp.starts_on <= day <= gp.ends_on:
                gp.status = "closed"
        db.session.commit()
    r = client.put("/api/v1/sessions/S-0004", json=session_body(partner=partner, date=day.isoformat()),
                   headers=partner.headers)
    assert r.status_code == 409 and "is closed" in r.get_json()["errors"]["json"]["date"][0]
    r = client.delete("/api/v1/sessions/S-0003", headers=partner.headers)
    assert r.status_code == 409
    r = client.patch("/api/v1/sessions/S-0003", json={"participants": [{"person_id": "kid-0", "present": False}]},
                     headers=partner.headers)
    assert r.status_code == 409


def test_patch_and_delete_of_unknown_session_are_404(client, partner):
    r = client.patch("/api/v1/sessions/NOPE-1", json={"leaders": [{"person_id": "x", "present": True}]},
                     headers=partner.headers)
    assert r.status_code == 404
    r = client.patch("/api/v1/sessions/NOPE-1", json={}, headers=partner.headers)
    assert r.status_code == 422
    assert client.get("/api/v1/sessions/ab", headers=partner.headers).status_code == 422


def test_session_list_with_cursor_and_changed_since(app, client, partner):
    put_group(client, partner, "1")
    for i in range(5):
        r = client.put(f"/api/v1/sessions/L-{i:03d}", json=session_body(partner=partner), headers=partner.headers)
        assert r.status_code == 201
    seen, cursor = [], None
    while True:
        q = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/sessions", query_string=q, headers=partner.headers).get_json()
        seen += [s["kod"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"L-{i:03d}" for i in range(5)]
    stamp = client.get("/api/v1/sessions/L-003", headers=partner.headers).get_json()["updated_at"]
    page = client.get("/api/v1/sessions", query_string={"changed_since": stamp}, headers=partner.headers).get_json()
    assert [s["kod"] for s in page["items"]] == ["L-003", "L-004"]
    # A patch is a change too.
    client.patch("/api/v1/sessions/L-000", json={"participants": [{"person_id": "kid-0", "present": False}]},
                 headers=partner.headers)
    page = client.get("/api/v1/sessions", query_string={"changed_since": stamp}, headers=partner.headers).get_json()
    assert [s["kod"] for s in page["items"]] == ["L-003", "L-004", "L-000"]
    r = client.get("/api/v1/sessions", query_string={"cursor": "garbage!"}, headers=partner.headers)
    assert r.status_code == 422 and "cursor" in r.get_json()["errors"]["query"]
    r = client.get("/api/v1/sessions", query_string={"changed_since": "yesterday"}, headers=partner.headers)
    assert r.status_code == 422 and "changed_since" in r.get_json()["errors"]["query"]
    r = client.get("/api/v1/sessions", query_string={"limit": 100000}, headers=partner.headers)
    assert r.status_code == 422


def test_listed_twice_is_reported_as_a_clash_note(client, partner):
    put_group(client, partner, "1")
    body = session_body(partner=partner)
    body["participants"].append({"person_id": "kid-0", "first_name": "Kid", "last_name": "Nr0",
                                 "birth_date": "2012-01-01", "present": True})
    r = client.put("/api/v1/sessions/D-1", json=body, headers=partner.headers)
    assert r.status_code == 201
    assert [c["kind"] for c in r.get_json()["clashes"]] == ["listed_twice"]
    assert r.get_json()["counts"]["participations"] == 3


def test_clash_flags_show_only_the_partners_side(app, client, partner):
    from apn.models import Association, Person
    from apn.testing import factories as f

    put_group(client, partner, "1")
    body = session_body(partner=partner)
    assert client.put("/api/v1/sessions/C-1", json=body, headers=partner.headers).status_code == 201
    # The same child at the same time in another association's session, reported on the web.
    with app.app_context(), tenant_scope(partner.tenant_id):
        from apn.models import Tenant

        tenant = db.session.get(Tenant, partner.tenant_id)
        other = db.session.execute(select(Association).where(
            Association.organisationsnummer == partner.other_orgnr)).scalar_one()
        kid_id = db.session.execute(select(PartnerPerson.person_id).where(PartnerPerson.external_id == "kid-0")
                                    ).scalar_one()
        kid = db.session.get(Person, (partner.tenant_id, kid_id))
        leader = f.create_person(tenant, dt.date(1975, 1, 1))
        group = f.create_group(tenant, other)
        res = f.report_session(tenant, group, dt.date.fromisoformat(body["date"]), start="18:30", stop="19:00",
                               participants=[kid], leaders=[leader])
        assert not res.refused
        db.session.commit()
    flags = client.get("/api/v1/clashes", headers=partner.headers).get_json()
    assert [(fl["kod"], fl["kind"], fl["person_id"]) for fl in flags] == [("C-1", "person_overlap", "kid-0")]
    assert set(flags[0]) == {"kind", "kod", "person_id", "status", "message", "message_sv", "created_at"}
    assert "another association" in flags[0]["message"] and "Other Club" not in str(flags)
    later = client.get("/api/v1/clashes", query_string={"since": "2999-01-01T00:00:00Z"},
                       headers=partner.headers).get_json()
    assert later == []
    got = client.get("/api/v1/sessions/C-1", headers=partner.headers).get_json()["clashes"]
    assert [c["kind"] for c in got] == ["person_overlap"]


def test_expected_grant_comes_from_the_rule_engine(app, client):
    from apn.rules import expected_grant

    from .conftest import make_partner

    p = make_partner(app, slug="kungsbacka", kommunkod="1384", ruleset="kungsbacka-2023")
    put_group(client, p, "1")
    day = dt.date.today() - dt.timedelta(days=3)
    ok = session_body(partner=p, date=day.isoformat(), n_participants=6)
    short = session_body(partner=p, date=day.isoformat(), start_time="20:00", stop_time="20:10")
    short["participants"] = [{**m, "person_id": f"x-{m['person_id']}", "birth_date": "2013-06-06"}
                             for m in short["participants"]]
    short["leaders"] = [{"person_id": "leader-2", "first_name": "Lo", "last_name": "Ek",
                         "birth_date": "1979-01-01"}]
    assert client.put("/api/v1/sessions/G-1", json=ok, headers=p.headers).status_code == 201
    assert client.put("/api/v1/sessions/G-2", json=short, headers=p.headers).status_code == 201
    period = f"{day.year}H{1 if day.month <= 6 else 2}"
    r = client.get(f"/api/v1/associations/{p.orgnr}/expected-grant", query_string={"period": period},
                   headers=p.headers)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    with app.app_context():
        direct = expected_grant(p.tenant_id, body["association"]["id"], period)
    assert body["total_ore"] == direct["total_ore"] and isinstance(body["total_ore"], int)
    assert body["association"]["organisationsnummer"].replace("-", "") == p.orgnr
    assert [s.get("kod") for s in body["rejected_sessions"]] == ["G-2"]
