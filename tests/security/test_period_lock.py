"""One period rule for every channel (issue 10 §2, issue 11 item 17).

A session is taken while its grant period is open for its association: not closed by the municipality, the
association's period report neither submitted nor decided; a new date must lie in a grant period and at most
one day past today. The refusal comes from the intake with a stable code, through the REST API (single and
bulk), DAK, the leader's form and the leader's app alike, and moving a session out of or into a locked
period, or removing one there, is refused too. A second municipality whose periods differ is not affected.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

import pytest
from sqlalchemy import func, select, update

from apn.extensions import db
from apn.formats.dak import NS_22
from apn.models import ActivitySession, Application, GrantPeriod
from apn.services import accounts
from apn.services import partners as partner_svc
from apn.tenancy import tenant_scope
from apn.testing import factories as f

PASSWORD = "correct horse battery"
TODAY = dt.date.today()
_keys = itertools.count(1)


@dataclass
class Side:
    """One municipality: an association with a group and roster, its leader, and an authorised partner."""

    tenant_id: int
    slug: str
    kommunkod: str
    orgnr: str
    association_id: int
    group_id: int
    participant_ids: list[int]
    leader_id: int
    email: str
    token: str
    open_day: dt.date  # yesterday: the running period
    locked_day: dt.date  # a day of the previous period, the one the tests lock
    browser: object = field(default=None, repr=False)  # the leader's signed-in test client

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}


def _build(app, slug: str, kommunkod: str) -> Side:
    with app.app_context():
        t = f.create_tenant(slug=slug, name=f"{slug} kommun", kommunkod=kommunkod)
        a = f.create_association(t, name="IK Test")
        g = f.create_group(t, a, name="P13", usual_start=dt.time(18, 0), usual_stop=dt.time(19, 30))
        kids = [f.create_person(t, dt.date(2012, 1 + i, 3), first_name=n, last_name="Berg")
                for i, n in enumerate(["Alva", "Bo"])]
        leader = f.create_person(t, dt.date(1985, 4, 4), first_name="Lena", last_name="Ledare")
        for k in kids:
            f.add_to_roster(t, g, k)
        f.add_to_roster(t, g, leader, role="leader")
        email = f"leader@{slug}.example.org"
        user = accounts.create_user(email, "Lena Ledare", PASSWORD)
        open_day = TODAY - dt.timedelta(days=1)
        with tenant_scope(t.id):
            accounts.grant_role(user, "reporter", group_id=g.id)
            client, _secret = partner_svc.create_client("ClubSoft")
            partner_svc.authorise(client.client_id, a.organisationsnummer)
            token, _ = partner_svc.issue_token(client)
            running = db.session.execute(select(GrantPeriod).where(
                GrantPeriod.starts_on <= open_day, GrantPeriod.ends_on >= open_day)).scalar_one()
            previous = db.session.execute(select(GrantPeriod).where(
                GrantPeriod.ends_on < running.starts_on).order_by(GrantPeriod.ends_on.desc())).scalars().first()
        side = Side(t.id, slug, kommunkod, a.organisationsnummer, a.id, g.id, [k.id for k in kids], leader.id,
                    email, token, open_day, previous.starts_on + dt.timedelta(days=20))
        db.session.commit()
    return side


@pytest.fixture
def sides(app) -> tuple[Side, Side]:
    """Two municipalities with the same dates in their periods; the tests lock periods of the first only."""
    return _build(app, "umea", "2480"), _build(app, "lulea", "2580")


def _lock(app, side: Side, day: dt.date, state: str) -> None:
    """Lock the period of ``day`` for the side's association: ``closed``, ``submitted`` or ``decided``."""
    with app.app_context(), tenant_scope(side.tenant_id):
        period = db.session.execute(select(GrantPeriod).where(
            GrantPeriod.starts_on <= day, GrantPeriod.ends_on >= day)).scalar_one()
        if state == "closed":
            db.session.execute(update(GrantPeriod).where(GrantPeriod.id == period.id).values(status="closed"))
        else:
            db.session.add(Application(tenant_id=side.tenant_id, association_id=side.association_id,
                                       period_id=period.id, status=state))
        db.session.commit()


def _count(app, side: Side) -> int:
    with app.app_context(), tenant_scope(side.tenant_id):
        return db.session.scalar(select(func.count()).select_from(ActivitySession))


def _dates(app, side: Side) -> list[dt.date]:
    with app.app_context(), tenant_scope(side.tenant_id):
        return sorted(db.session.execute(select(ActivitySession.session_date)).scalars())


# --- the channels ----------------------------------------------------------------------------------------

def _rest_body(side: Side, day: dt.date) -> dict:
    return {"organisationsnummer": side.orgnr, "card_number": "1", "date": day.isoformat(), "start_time": "18:00",
            "stop_time": "19:30", "type": "Traening",
            "participants": [{"person_id": "kid-1", "first_name": "Kid", "last_name": "Ett",
                              "birth_date": "2012-01-05", "sex": "F", "present": True}],
            "leaders": [{"person_id": "lead-1", "first_name": "Lea", "last_name": "Der",
                         "birth_date": "1980-03-03", "present": True}]}


def _api(client, side: Side, method: str, path: str, **kw):
    headers = {**side.headers, "Idempotency-Key": f"key-{next(_keys):08d}"}
    return getattr(client, method)(f"/api/v1{path}", headers=headers, **kw)


def _put_card(client, side: Side) -> None:
    r = _api(client, side, "put", f"/associations/{side.orgnr}/groups/1", json={"name": "P13"})
    assert r.status_code in (200, 201), r.get_json()


def rest_put(client, side: Side, day: dt.date, kod: str):
    """``(accepted, code)`` of ``PUT /sessions/{kod}``."""
    r = _api(client, side, "put", f"/sessions/{kod}", json=_rest_body(side, day))
    if r.status_code in (200, 201):
        return True, None
    body = r.get_json()
    assert r.status_code in (409, 422), body
    assert body["errors"]["json"]["date"], body
    assert (r.status_code == 409) == (body.get("error_code") in ("period_closed", "period_submitted",
                                                                   "period_decided")), body
    return False, body.get("error_code")


def rest_bulk(client, side: Side, day: dt.date, kod: str):
    """``(accepted, code)`` of one session in ``POST /sessions/bulk``."""
    r = _api(client, side, "post", "/sessions/bulk", json={"sessions": [{**_rest_body(side, day), "kod": kod}]})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    if body["accepted"]:
        return True, None
    [refused] = body["refused"]
    assert refused["field"] == "date" and refused["reason"], refused
    return False, refused["code"]


def dak_xml(side: Side, sessions: list[tuple[str, dt.date, str]]) -> bytes:
    """A DAK 2.2 file with one card of ``(kod, date, Metod)`` sessions, one participant and one leader."""
    lines = ['<?xml version="1.0" encoding="utf-8"?>', f'<Aktivitetskort xmlns="{NS_22}">',
             f'<Kommun kommunID="{side.kommunkod}" version="2.2">',
             f'<Foerening foereningsID="F1" foereningsNamn="IK Test" organisationsnummer="{side.orgnr}">',
             '<Naervarokort NaervarokortNummer="77">', "<Aktivitet>Fotboll</Aktivitet>", "<Lokal>Hallen</Lokal>",
             "<Sammankomster>"]
    for kod, day, method in sessions:
        lines += [f'<Sammankomst kod={quoteattr(kod)} Datum="{day.isoformat()}">', "<StartTid>18:00:00</StartTid>",
                  "<StoppTid>19:30:00</StoppTid>", "<Aktivitet>Fotboll</Aktivitet>", "<Lokal>Hallen</Lokal>",
                  "<Typ>Traening</Typ>", f"<Metod>{method}</Metod>"]
        if method != "Remove":
            lines += ['<DeltagarLista><Deltagare id="d1"><Handikapp>false</Handikapp>'
                      "<Naervarande>true</Naervarande></Deltagare></DeltagarLista>",
                      '<LedarLista><Ledare id="l1"><Handikapp>false</Handikapp>'
                      "<Naervarande>true</Naervarande></Ledare></LedarLista>"]
        lines.append("</Sammankomst>")
    lines += ["</Sammankomster>", "</Naervarokort>", "</Foerening>", "</Kommun>",
              '<DeltagarRegister><Deltagare id="d1"><Foernamn>Alva</Foernamn><Efternamn>Berg</Efternamn>'
              f"<Personnummer>{f.make_pnr(dt.date(2012, 2, 2), 7)}</Personnummer></Deltagare></DeltagarRegister>",
              '<LedarRegister><Ledare id="l1"><Foernamn>Lena</Foernamn><Efternamn>Ledare</Efternamn>'
              f"<Personnummer>{f.make_pnr(dt.date(1985, 4, 4), 8)}</Personnummer></Ledare></LedarRegister>",
              "</Aktivitetskort>"]
    return "\n".join(lines).encode("utf-8")


def dak_send(client, side: Side, sessions: list[tuple[str, dt.date, str]]) -> list[dict]:
    """The refused entries of a DAK upload (also checks that every other session was taken)."""
    r = _api(client, side, "post", "/dak", data=dak_xml(side, sessions), content_type="application/xml")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["accepted"]["sessions"] + body["refused_total"] == len(sessions), body
    return body["refused"]


def dak(client, side: Side, day: dt.date, kod: str):
    """``(accepted, code)`` of a one-session DAK file."""
    refused = dak_send(client, side, [(kod, day, "Add")])
    if not refused:
        return True, None
    assert refused[0]["reason"].startswith("Datum: "), refused
    return False, refused[0]["code"]


def _leader_client(app, side: Side):
    """The side's leader, signed in once through the sign-in form."""
    if side.browser is None:
        side.browser = app.test_client()
        r = side.browser.post("/login", data={"email": side.email, "password": PASSWORD})
        assert r.status_code == 302
    return side.browser


def _form(side: Side, day: dt.date) -> dict:
    return {"date": day.isoformat(), "start": "18:00", "stop": "19:30", "facility": "", "type": "Traening",
            "p": [str(side.participant_ids[0])], "l": [str(side.leader_id)], "new_pnr": [""], "new_first": [""],
            "new_last": [""], "new_birth": [""], "new_sex": [""]}


#: What the leader reads for each code (Swedish, the default language).
LEADER_TEXT = {
    "period_closed": "Bidragsperioden för det här datumet är stängd",
    "period_submitted": "Föreningen har lämnat in sin rapport",
    "period_decided": "är beslutad för föreningen",
    "no_period": "inte i någon av kommunens bidragsperioder",
    "date_in_future": "Datumet ligger i framtiden",
}


def leader_form(app, side: Side, day: dt.date, kod: str):
    """``(accepted, code)`` of the leader's attendance form; the code is told by the page's sentence."""
    client = _leader_client(app, side)
    r = client.post(f"/k/{side.slug}/leader/groups/{side.group_id}", data=_form(side, day))
    if r.status_code == 302:
        return True, None
    assert r.status_code == 422, r.status_code
    html = r.get_data(as_text=True)
    found = [code for code, text in LEADER_TEXT.items() if text in html]
    assert len(found) == 1, html[:2000]
    return False, found[0]


def leader_app(app, side: Side, day: dt.date, kod: str):
    """``(accepted, code)`` of the leader app's endpoint."""
    client = _leader_client(app, side)
    body = {"group_id": side.group_id, "date": day.isoformat(), "start": "18:00", "stop": "19:30",
            "facility_id": None, "session_type": "Traening", "present": [side.participant_ids[0]],
            "leaders": [side.leader_id], "temporary_leaders": [], "disabled": [], "new_people": []}
    r = client.post(f"/k/{side.slug}/app/sessions", data=json.dumps(body),
                    headers={"Idempotency-Key": f"app-{next(_keys):08d}", "Accept": "application/json",
                             "Content-Type": "application/json"})
    if r.status_code == 201:
        return True, None
    payload = r.get_json()
    assert r.status_code == 422, payload
    assert LEADER_TEXT[payload["error_code"]] in payload["message"], payload
    return False, payload["error_code"]


CHANNELS = {"rest_put": rest_put, "rest_bulk": rest_bulk, "dak": dak, "leader_form": leader_form,
            "leader_app": leader_app}


def _try(app, client, channel: str, side: Side, day: dt.date, kod: str):
    fn = CHANNELS[channel]
    if channel.startswith("leader"):
        return fn(app, side, day, kod)
    return fn(client, side, day, kod)


def _write_everywhere(app, client, side: Side, day: dt.date, tag: str) -> dict[str, tuple[bool, str | None]]:
    _put_card(client, side)
    return {ch: _try(app, client, ch, side, day, f"{tag}-{ch}") for ch in CHANNELS}


# --- the tests -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("state", ["closed", "submitted", "decided"])
def test_a_locked_period_refuses_new_sessions_through_every_channel(app, client, sides, state):
    umea, lulea = sides
    _lock(app, umea, umea.locked_day, state)
    before = _count(app, umea)
    results = _write_everywhere(app, client, umea, umea.locked_day, "L")
    assert results == {ch: (False, f"period_{state}") for ch in CHANNELS}
    assert _count(app, umea) == before
    # The same date in the other municipality, whose period is open, is taken by every channel.
    assert _write_everywhere(app, client, lulea, lulea.locked_day, "L") == {ch: (True, None) for ch in CHANNELS}
    # And the first municipality's open period still takes sessions.
    assert _write_everywhere(app, client, umea, umea.open_day, "O") == {ch: (True, None) for ch in CHANNELS}


def test_a_submitted_report_locks_only_its_own_association(app, client, sides):
    umea, _ = sides
    _lock(app, umea, umea.locked_day, "submitted")
    with app.app_context():
        from apn.models import Tenant

        other = f.create_association(db.session.get(Tenant, umea.tenant_id), name="Andra IF")
        group = f.create_group(db.session.get(Tenant, umea.tenant_id), other, name="Andra")
        result = f.report_session(db.session.get(Tenant, umea.tenant_id), group, umea.locked_day)
        db.session.commit()
    assert result.accepted and not result.refused


def test_a_date_long_ago_is_refused_through_every_channel(app, client, sides):
    umea, _ = sides
    long_ago = dt.date(TODAY.year - 3, 3, 4)  # DAK took such dates; no grant period holds them
    assert _write_everywhere(app, client, umea, long_ago, "A") == {ch: (False, "no_period") for ch in CHANNELS}
    assert _count(app, umea) == 0


def test_a_date_in_the_future_is_refused_through_every_channel(app, client, sides):
    umea, _ = sides
    assert _write_everywhere(app, client, umea, TODAY + dt.timedelta(days=3), "F") == \
        {ch: (False, "date_in_future") for ch in CHANNELS}
    assert _write_everywhere(app, client, umea, TODAY + dt.timedelta(days=400), "G") == \
        {ch: (False, "date_in_future") for ch in CHANNELS}
    assert _count(app, umea) == 0
    # One day ahead is within the margin (a report just after midnight, a clock running ahead).
    assert rest_put(client, umea, TODAY + dt.timedelta(days=1), "F-margin") == (True, None)


@pytest.mark.parametrize("state", ["closed", "submitted", "decided"])
def test_moving_into_or_out_of_a_locked_period_and_removing_there_are_refused(app, client, sides, state):
    umea, lulea = sides
    for side in (umea, lulea):
        _put_card(client, side)
        assert rest_put(client, side, side.locked_day, "IN-LOCKED") == (True, None)
        assert rest_put(client, side, side.open_day, "IN-OPEN") == (True, None)
        assert dak(client, side, side.locked_day, "DAK-LOCKED") == (True, None)
        assert leader_form(app, side, side.locked_day, "") == (True, None)
    _lock(app, umea, umea.locked_day, state)
    code = f"period_{state}"
    stored = _dates(app, umea)

    # REST: out of the locked period, into it, and removal there.
    assert rest_put(client, umea, umea.open_day, "IN-LOCKED") == (False, code)
    assert rest_put(client, umea, umea.locked_day, "IN-OPEN") == (False, code)
    r = _api(client, umea, "delete", "/sessions/IN-LOCKED")
    assert r.status_code == 409 and r.get_json()["error_code"] == code
    r = _api(client, umea, "patch", "/sessions/IN-LOCKED",
             json={"participants": [{"person_id": "kid-1", "present": False}]})
    assert r.status_code == 409 and r.get_json()["error_code"] == code
    # Bulk: the same, each refused on its own with its code.
    r = _api(client, umea, "post", "/sessions/bulk", json={"sessions": [
        {**_rest_body(umea, umea.open_day), "kod": "IN-LOCKED"}, {"kod": "DAK-LOCKED", "method": "remove"}]})
    assert [(x["index"], x["code"]) for x in r.get_json()["refused"]] == [(0, code), (1, code)]
    # DAK: moved out, moved in, removed.
    refused = dak_send(client, umea, [("DAK-LOCKED", umea.open_day, "Add"), ("IN-OPEN", umea.locked_day, "Add"),
                                      ("IN-LOCKED", umea.locked_day, "Remove")])
    assert [x["code"] for x in refused] == [code, code, code]
    # The leader: edit out of the locked period, delete there (the refusal is the intake's).
    client_l = _leader_client(app, umea)
    with app.app_context(), tenant_scope(umea.tenant_id):
        sid = db.session.execute(select(ActivitySession.id).where(ActivitySession.channel == "web")).scalar_one()
    r = client_l.post(f"/k/{umea.slug}/leader/sessions/{sid}/edit", data=_form(umea, umea.open_day))
    assert r.status_code == 422 and LEADER_TEXT[code] in r.get_data(as_text=True)
    r = client_l.post(f"/k/{umea.slug}/leader/sessions/{sid}/delete", follow_redirects=True)
    assert LEADER_TEXT[code] in r.get_data(as_text=True)
    assert _dates(app, umea) == stored

    # The other municipality, nothing locked: the same moves and removals go through.
    assert rest_put(client, lulea, lulea.open_day, "IN-LOCKED") == (True, None)
    assert rest_put(client, lulea, lulea.locked_day, "IN-OPEN") == (True, None)
    assert dak_send(client, lulea, [("DAK-LOCKED", lulea.open_day, "Add"),
                                    ("IN-LOCKED", lulea.open_day, "Remove")]) == []
    assert _api(client, lulea, "delete", "/sessions/IN-OPEN").status_code == 204


def test_a_stored_session_in_no_period_may_be_moved_into_an_open_one(app, client, sides):
    umea, _ = sides
    _put_card(client, umea)
    assert rest_put(client, umea, umea.open_day, "OLD") == (True, None)
    with app.app_context(), tenant_scope(umea.tenant_id):  # as stored before the rule: dated in no period
        db.session.execute(update(ActivitySession).values(session_date=dt.date(TODAY.year - 3, 3, 4)))
        db.session.commit()
    assert rest_put(client, umea, umea.open_day, "OLD") == (True, None)
    assert _api(client, umea, "delete", "/sessions/OLD").status_code == 204


# --- the lock holds against a submit or a close at the same instant (PostgreSQL) ---------------------------

def _someone_waits(postgres, seconds: float = 10) -> bool:
    """True once a lock request waits in the database (polled for at most ``seconds``)."""
    from sqlalchemy import create_engine, text

    eng = create_engine(postgres.url("apn_owner"))
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with eng.connect() as conn:
                if conn.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar():
                    return True
            time.sleep(0.02)
        return False
    finally:
        eng.dispose()


@pytest.mark.parametrize("state", ["submitted", "closed"])
def test_a_write_racing_the_lock_of_its_period_waits_and_is_refused(app, client, sides, postgres, state):
    """The municipality closes the period, or the association submits its report, in a transaction that is
    still open when a partner writes a session of that period: the write waits, then is refused."""
    from apn.models import Association
    from apn.services.locking import lock_parent

    side = sides[0]
    _put_card(client, side)
    holding, release, errors = threading.Event(), threading.Event(), []

    def lock_the_period():
        try:
            with app.app_context(), tenant_scope(side.tenant_id, db.session()):
                period = db.session.execute(select(GrantPeriod).where(
                    GrantPeriod.starts_on <= side.locked_day, GrantPeriod.ends_on >= side.locked_day)).scalar_one()
                if state == "closed":
                    db.session.execute(update(GrantPeriod).where(GrantPeriod.id == period.id).values(status="closed"))
                else:  # what submit_period_report does
                    lock_parent(Association.id, side.association_id)
                    db.session.add(Application(tenant_id=side.tenant_id, association_id=side.association_id,
                                               period_id=period.id, status="submitted"))
                db.session.flush()
                holding.set()
                release.wait(20)
                db.session.commit()
        except Exception as exc:  # reported below
            errors.append(exc)
            holding.set()

    locker = threading.Thread(target=lock_the_period)
    locker.start()
    assert holding.wait(20) and not errors, errors
    answers: list = []
    writer = threading.Thread(target=lambda: answers.append(rest_put(client, side, side.locked_day, "RACE-LOCK-1")))
    writer.start()
    waited = _someone_waits(postgres)
    release.set()
    locker.join(20)
    writer.join(30)
    assert not errors, errors
    assert waited, "the write did not wait for the transaction locking its period"
    assert answers == [(False, f"period_{state}")]
    assert _count(app, side) == 0
