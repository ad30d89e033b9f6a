"""Privacy between associations and municipalities (issue 11, items 2–4).

Two municipalities: Umeå (2480) with association X (which authorised the partner) and association Y (which
did not), and Kungsbacka (1384) with association Z. The same child (number ``P``) is at a session of Z;
``Q`` is a child nobody else has. ``R`` is Y's child, stored as "Rut Ros".
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from apn.clash import flags_for_officer
from apn.extensions import db
from apn.identity import encrypt_pnr, parse_personnummer, pnr_hash
from apn.intake import AttendanceMark, PersonRef, SessionCommand, ingest
from apn.models import Person
from apn.services import accounts
from apn.services import partners as partner_svc
from apn.tenancy import tenant_scope
from apn.testing import factories as f

PASSWORD = "correct horse battery"
DAY = dt.date.today() - dt.timedelta(days=3)
BIRTH = dt.date(2012, 5, 17)
P = f.make_pnr(BIRTH, 7, female=True)   # at a session in Kungsbacka at the time of the probe
Q = f.make_pnr(BIRTH, 8, female=True)   # nowhere else
R = f.make_pnr(BIRTH, 9, female=True)   # Y's child in Umeå
S = f.make_pnr(BIRTH, 10, female=True)  # a number nobody has


@dataclass
class World:
    """Ids and credentials (objects do not outlive the app context)."""

    umea: int
    kba: int
    x: int
    y: int
    orgnr_x: str
    orgnr_y: str
    gx: int
    gy: int
    kids: list[int]
    p_id: int
    q_id: int
    token: str

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}


def _person(tenant, pnr: str, first: str, last: str) -> Person:
    pn = parse_personnummer(pnr)
    with tenant_scope(tenant.id):
        p = Person(tenant_id=tenant.id, first_name=first, last_name=last, birth_date=pn.birth_date, sex=pn.sex,
                   pnr_hash=pnr_hash(pn.number), pnr_encrypted=encrypt_pnr(pn.number))
        db.session.add(p)
        db.session.flush()
        return p


def _session(tenant, group, people: list[str], start: str = "18:00", stop: str = "19:30") -> int:
    cmd = SessionCommand(association_id=group.association_id, group_id=group.id, session_date=DAY,
                         start_time=dt.time.fromisoformat(start), stop_time=dt.time.fromisoformat(stop),
                         channel="web", attendance=[AttendanceMark(PersonRef(personnummer=n), "participant")
                                                    for n in people])
    with tenant_scope(tenant.id):
        result = ingest([cmd])
    assert not result.refused, result.refused
    return result.accepted[0].session_id


@pytest.fixture
def world(app) -> World:
    """Both municipalities, committed; Kungsbacka's session with P is reported first."""
    with app.app_context():
        umea = f.create_tenant(slug="umea", kommunkod="2480", name="Umeå kommun", ruleset="fagersta")
        kba = f.create_tenant(slug="kungsbacka", kommunkod="1384", name="Kungsbacka kommun", ruleset="fagersta")
        x = f.create_association(umea, name="IFK X")
        y = f.create_association(umea, name="Y Club")
        z = f.create_association(kba, name="Hallands Simklubb")
        gx = f.create_group(umea, x, name="P13", usual_start=dt.time(18, 30), usual_stop=dt.time(19, 30))
        gy = f.create_group(umea, y, name="Y grupp")
        gz = f.create_group(kba, z, name="Simskola")
        kids = [f.create_person(umea, dt.date(2012, 1, 3 + i), first_name=n, last_name="Berg")
                for i, n in enumerate(["Alva", "Bo", "Cleo"])]
        lead = f.create_person(umea, dt.date(1985, 4, 4), first_name="Lena", last_name="Ledare")
        p = _person(umea, P, "Ada", "Ek")
        q = _person(umea, Q, "Ada", "Ek")
        r = _person(umea, R, "Rut", "Ros")
        for k in [*kids, p, q]:
            f.add_to_roster(umea, gx, k)
        f.add_to_roster(umea, gx, lead, role="leader")
        f.add_to_roster(umea, gy, r)
        _session(kba, gz, [P])
        leader = accounts.create_user("leader@example.org", "Lena Ledare", PASSWORD)
        admin = accounts.create_user("admin@example.org", "Ann Admin", PASSWORD)
        with tenant_scope(umea.id):
            accounts.grant_role(leader, "reporter", group_id=gx.id)
            accounts.grant_role(admin, "association_admin", association_id=x.id)
            client, _secret = partner_svc.create_client("ClubSoft")
            partner_svc.authorise(client.client_id, x.organisationsnummer)
            token, _ = partner_svc.issue_token(client)
        w = World(umea.id, kba.id, x.id, y.id, x.organisationsnummer, y.organisationsnummer, gx.id, gy.id,
                  [k.id for k in kids] + [lead.id], p.id, q.id, token)
        db.session.commit()
        return w


def sign_in(client, email: str) -> None:
    r = client.post("/login", data={"email": email, "password": PASSWORD})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]


def _stable(body) -> str:
    """A JSON answer as text to compare, with the server's own timestamps blanked."""
    text = json.dumps(body, sort_keys=True, ensure_ascii=False)
    text = re.sub(r'"(updated_at|created_at)": "[^"]*"', r'"\1": "-"', text)
    return re.sub(r'"session_id": \d+', '"session_id": 0', text)  # our ids: new sessions get new ones


def _flags(app, tenant_id: int) -> list[dict]:
    with app.app_context():
        return flags_for_officer(tenant_id)


# --- item 4: no cross-municipality signal at intake -----------------------------------------------------

def _api_body(w: World, pnr: str) -> dict:
    return {"organisationsnummer": w.orgnr_x, "card_number": "1", "date": DAY.isoformat(), "start_time": "18:30",
            "stop_time": "19:30", "type": "Traening",
            "participants": [{"person_id": "child", "personnummer": pnr, "first_name": "Ada", "last_name": "Ek"},
                             *({"person_id": f"k{i}", "personnummer": f.make_pnr(dt.date(2012, 2, 2 + i), 3 + i),
                                "first_name": "Kid", "last_name": str(i)} for i in range(2))],
            "leaders": [{"person_id": "lead", "personnummer": f.make_pnr(dt.date(1980, 1, 1), 5),
                         "first_name": "Lea", "last_name": "Der"}]}


def _probe_api(app, client, w: World, pnr: str) -> tuple[list[str], list[dict], list[dict]]:
    """Everything the partner can read after pushing the session with ``pnr``, then the officers' flags; the
    session is removed again afterwards."""
    h = w.headers
    seen = []
    r = client.put("/api/v1/sessions/probe-1", json=_api_body(w, pnr), headers=h)
    assert r.status_code in (200, 201), r.get_json()
    seen.append(f"{r.status_code} {_stable(r.get_json())}")
    bulk = client.post("/api/v1/sessions/bulk", headers=h, json={"sessions": [
        {**_api_body(w, pnr), "kod": "probe-2", "start_time": "18:45"}]})
    seen.append(f"{bulk.status_code} {_stable(bulk.get_json())}")
    for path in ("/api/v1/sessions/probe-1", "/api/v1/sessions?limit=100", "/api/v1/clashes",
                 f"/api/v1/associations/{w.orgnr_x}/expected-grant?period={_period(app, w)}"):
        got = client.get(path, headers=h)
        seen.append(f"{got.status_code} {_stable(got.get_json())}")
    officers = _flags(app, w.umea), _flags(app, w.kba)
    for kod in ("probe-1", "probe-2"):
        assert client.delete(f"/api/v1/sessions/{kod}", headers=h).status_code == 204
    return seen, *officers


def _period(app, w: World) -> str:
    from apn.models import GrantPeriod

    with app.app_context(), tenant_scope(w.umea):
        return db.session.execute(select(GrantPeriod.code).where(
            GrantPeriod.starts_on <= DAY, GrantPeriod.ends_on >= DAY)).scalar_one()


def test_api_answers_are_the_same_with_or_without_a_clash_in_another_municipality(app, client, world):
    assert client.put(f"/api/v1/associations/{world.orgnr_x}/groups/1", json={"name": "P13"},
                      headers=world.headers).status_code == 201
    with_clash, umea_flags, kba_flags = _probe_api(app, client, world, P)
    without, umea_none, kba_none = _probe_api(app, client, world, Q)
    assert with_clash == without
    assert "other_municipality" not in "".join(with_clash) and "annan kommun" not in "".join(with_clash)
    # The flag is stored and officers of both municipalities see it (two sessions in Umeå: two flags).
    assert [fl["kind"] for fl in umea_flags].count("other_municipality") == 2
    assert {fl["kind"] for fl in kba_flags} == {"other_municipality"}
    assert "other_municipality" not in json.dumps(umea_none) and kba_none == []


def _dak(w: World, pnr: str) -> bytes:
    ns = "http://sverigesforeningssystem.se/importSchema.xsd"
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<Aktivitetskort xmlns="{ns}">\n'
            f'<Kommun kommunID="2480" version="2.2">\n'
            f'<Foerening foereningsID="F1" foereningsNamn="IFK" organisationsnummer="{w.orgnr_x}">\n'
            '<Naervarokort NaervarokortNummer="77"><Aktivitet>Fotboll</Aktivitet><Lokal>Hall A</Lokal>'
            f'<Sammankomster>\n<Sammankomst kod="DAK-1" Datum="{DAY.isoformat()}">\n<StartTid>18:30:00</StartTid>'
            "<StoppTid>19:30:00</StoppTid><Aktivitet>Fotboll</Aktivitet><Lokal>Hall A</Lokal><Typ>Traening</Typ>"
            '<Metod>Add</Metod><DeltagarLista><Deltagare id="d0"><Handikapp>false</Handikapp>'
            "<Naervarande>true</Naervarande></Deltagare></DeltagarLista><LedarLista/></Sammankomst>\n"
            "</Sammankomster></Naervarokort>\n</Foerening>\n</Kommun>\n"
            f'<DeltagarRegister><Deltagare id="d0"><Foernamn>Ada</Foernamn><Efternamn>Ek</Efternamn>'
            f"<Personnummer>{pnr}</Personnummer></Deltagare></DeltagarRegister>\n"
            "<LedarRegister/>\n</Aktivitetskort>\n").encode()


def test_dak_report_is_the_same_with_or_without_a_clash_in_another_municipality(app, client, world):
    answers = []
    for pnr in (P, Q):
        r = client.post("/api/v1/dak", data=_dak(world, pnr), content_type="application/xml",
                        headers=world.headers)
        assert r.status_code == 200, r.get_json()
        answers.append(r.get_data())
        flags = _flags(app, world.umea)
        assert [fl["kind"] for fl in flags] == (["other_municipality"] if pnr == P else [])
        assert client.delete("/api/v1/sessions/DAK-1", headers=world.headers).status_code == 204
    assert answers[0] == answers[1]


def _leader_form(w: World, person: int) -> dict:
    return {"date": DAY.isoformat(), "start": "18:30", "stop": "19:30", "type": "Traening",
            "p": [*map(str, w.kids[:3]), str(person)], "l": [str(w.kids[3])]}


def _page(client, url: str) -> bytes:
    """A page as bytes to compare (with its time-stamped CSRF tokens blanked)."""
    client.get(url)  # takes any flashed message
    return re.sub(rb'name="csrf_token" value="[^"]*"', b'name="csrf_token" value=""', client.get(url).get_data())


def test_leader_result_page_and_app_answer_are_the_same(app, client, world):
    sign_in(client, "leader@example.org")
    r = client.post(f"/k/umea/leader/groups/{world.gx}", data=_leader_form(world, world.p_id))
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    url = r.headers["Location"]
    with_clash = _page(client, url)
    assert [fl["kind"] for fl in _flags(app, world.umea)] == ["other_municipality"]
    assert [fl["kind"] for fl in _flags(app, world.kba)] == ["other_municipality"]
    r = client.post(url + "/edit", data=_leader_form(world, world.q_id))
    assert r.status_code == 302
    without = _page(client, url)
    assert _flags(app, world.umea) == [] and _flags(app, world.kba) == []
    assert with_clash == without
    assert b"Saved and accepted" in without or b"Sparad" in without

    # The offline app: one attendance with P, deleted, then the same with Q.
    answers = []
    for n, person in enumerate((world.p_id, world.q_id)):
        if n == 0:
            assert client.post(url + "/delete").status_code == 302
        body = {"group_id": world.gx, "date": DAY.isoformat(), "start": "18:30", "stop": "19:30",
                "present": [*world.kids[:3], person], "leaders": [world.kids[3]]}
        a = client.post("/k/umea/app/sessions", json=body, headers={"Idempotency-Key": f"key-{n}-abcdefgh"})
        assert a.status_code == 201, a.get_json()
        sid = a.get_json()["session_id"]
        text = a.get_data(as_text=True)
        answers.append(text.replace(f'"session_id":{sid}', '"session_id":SID').replace(f"/sessions/{sid}", "/SID"))
        if n == 0:
            assert [fl["kind"] for fl in _flags(app, world.kba)] == ["other_municipality"]
            assert client.post(f"/k/umea/leader/sessions/{sid}/delete").status_code == 302
    assert answers[0] == answers[1]


def test_association_pages_show_no_clash_in_another_municipality(app, client, world):
    with app.app_context():
        from apn.models import Tenant

        umea = db.session.get(Tenant, world.umea)
        with tenant_scope(world.umea):
            from apn.models import Group

            gx = db.session.get(Group, (world.umea, world.gx))
            _session(umea, gx, [P], start="18:30", stop="19:30")
        db.session.commit()
    assert [fl["kind"] for fl in _flags(app, world.umea)] == ["other_municipality"]
    sign_in(client, "admin@example.org")
    page = client.get(f"/k/umea/associations/{world.x}/sessions").get_data(as_text=True)
    assert "Clash to resolve" not in page and "Krock att" not in page.replace("\u00a0", " ")


# --- item 2: a partner changes only what its associations reported ---------------------------------------

def _stored_name(app, w: World, pnr: str) -> tuple[str, str, str]:
    with app.app_context(), tenant_scope(w.umea):
        p = db.session.execute(select(Person).where(Person.pnr_hash == pnr_hash(pnr))).scalar_one()
        return p.first_name, p.last_name, p.sex


def test_partner_cannot_rename_another_associations_person_and_learns_nothing(app, client, world):
    url = f"/api/v1/associations/{world.orgnr_x}/people"
    body = {"first_name": "Hanna", "last_name": "Hacker"}
    r1 = client.put(f"{url}/probe", json={**body, "personnummer": R}, headers=world.headers)
    r2 = client.put(f"{url}/probe2", json={**body, "personnummer": S}, headers=world.headers)
    assert (r1.status_code, r2.status_code) == (201, 201)
    assert _stable(r1.get_json()).replace("probe", "ID") == _stable(r2.get_json()).replace("probe2", "ID")
    assert "Rut" not in r1.get_data(as_text=True) and "Ros" not in r1.get_data(as_text=True)
    assert _stored_name(app, world, R)[:2] == ("Rut", "Ros")
    # Again with the same partner id, with spaces around the number: still not renamed.
    r3 = client.put(f"{url}/probe", json={**body, "personnummer": f" {R[:8]}-{R[8:]} "}, headers=world.headers)
    assert r3.status_code == 200 and r3.get_json()["first_name"] == "Hanna"
    assert _stored_name(app, world, R)[:2] == ("Rut", "Ros")
    # The partner's own association's child may be corrected.
    r4 = client.put(f"{url}/own", json={"first_name": "Adah", "last_name": "Eke", "personnummer": Q},
                    headers=world.headers)
    assert r4.status_code == 201 and _stored_name(app, world, Q)[:2] == ("Adah", "Eke")
    # A person only this partner has named so far (no association reported it yet) may be corrected too.
    client.put(f"{url}/mine", json={"first_name": "Typo", "last_name": "Nam", "personnummer": S},
               headers=world.headers)
    assert _stored_name(app, world, S)[:2] == ("Typo", "Nam")


def test_partner_cannot_change_sex_of_another_associations_person_without_number(app, client, world):
    with app.app_context():
        from apn.models import Group, Tenant

        umea = db.session.get(Tenant, world.umea)
        sam = f.create_person(umea, dt.date(2013, 3, 3), with_pnr=False, female=True, first_name="Sam",
                              last_name="Sten")
        with tenant_scope(world.umea):
            f.add_to_roster(umea, db.session.get(Group, (world.umea, world.gy)), sam)
        db.session.commit()
    url = f"/api/v1/associations/{world.orgnr_x}/people"
    base = {"first_name": "Sam", "last_name": "Sten", "birth_date": "2013-03-03"}
    known = client.put(f"{url}/s1", json=base, headers=world.headers)
    fresh = client.put(f"{url}/s2", json={**base, "first_name": "Samu"}, headers=world.headers)
    assert known.get_json()["sex"] == fresh.get_json()["sex"] == "X"  # not the stored "F"
    assert client.put(f"{url}/s1", json={**base, "sex": "M"}, headers=world.headers).status_code == 200
    with app.app_context(), tenant_scope(world.umea):
        sexes = db.session.execute(select(Person.sex).where(Person.first_name == "Sam")).scalars().all()
    assert sexes == ["F"]


# --- item 3: matching by number discloses no stored name -------------------------------------------------

def test_roster_add_and_import_show_the_typed_name_not_the_stored_one(app, client, world):
    sign_in(client, "admin@example.org")
    base = f"/k/umea/associations/{world.x}/groups/{world.gx}"
    r = client.post(f"{base}/people", data={"role": "participant", "personnummer": R, "first_name": "Hanna",
                                             "last_name": "Hacker", "sex": ""}, follow_redirects=True)
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "Hanna Hacker" in page
    assert "Rut" not in page and "Ros" not in page
    csv_file = f"personnummer;förnamn;efternamn\n{R};Ines;Import\n".encode()
    r = client.post(f"{base}/import", data={"file": (io.BytesIO(csv_file), "roster.csv"),
                                             "default_role": "participant"}, content_type="multipart/form-data")
    page = r.get_data(as_text=True)
    assert "Ines Import" in page and "Rut" not in page
    assert _stored_name(app, world, R)[:2] == ("Rut", "Ros")  # and Y's own name is untouched
    # The leader of the group sees the association's name for the child too.
    sign_in(client, "leader@example.org")
    form = client.get(f"/k/umea/leader/groups/{world.gx}").get_data(as_text=True)
    assert "Ines Import" in form and "Rut Ros" not in form


def test_leader_result_page_does_not_echo_a_stored_name(app, client, world):
    with app.app_context():
        from apn.models import Group, Tenant

        umea = db.session.get(Tenant, world.umea)
        with tenant_scope(world.umea):
            _session(umea, db.session.get(Group, (world.umea, world.gy)), [R])  # Y's session, same time
        db.session.commit()
    sign_in(client, "leader@example.org")
    form = {**_leader_form(world, world.q_id), "new_pnr": [R], "new_first": ["Hanna"], "new_last": ["Hacker"],
            "new_birth": [""], "new_sex": [""], "start": "18:00"}
    r = client.post(f"/k/umea/leader/groups/{world.gx}", data=form)
    assert r.status_code == 302, r.get_data(as_text=True)[:400]
    page = _page(client, r.headers["Location"])
    assert b"Hanna Hacker" in page and b"Rut" not in page
    body = {"group_id": world.gx, "date": DAY.isoformat(), "start": "18:05", "stop": "19:30",
            "present": world.kids[:3], "leaders": [world.kids[3]],
            "new_people": [{"personnummer": R, "first_name": "Hanna", "last_name": "Hacker"}]}
    a = client.post("/k/umea/app/sessions", json=body, headers={"Idempotency-Key": "key-new-person-1"})
    assert a.status_code == 201 and "Rut" not in a.get_data(as_text=True)
    assert _stored_name(app, world, R)[:2] == ("Rut", "Ros")

