"""Racing real HTTP requests: the same session code, the same key, the same new person, at the same moment.

Used by the races of issue 11 item 12, against the test app served in threads (``test_races``) and against
gunicorn with several workers on PostgreSQL (``test_race_probe``). Every race sends its requests from
threads released together by a barrier, so they overlap inside the server.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

import requests
from sqlalchemy import func, select

from apn.extensions import db
from apn.identity import pnr_hash
from apn.models import ActivitySession, Attendance, PartnerPerson, Person
from apn.tenancy import tenant_scope
from apn.testing.factories import make_pnr

NS_22 = "http://sverigesforeningssystem.se/importSchema.xsd"
DAY = (dt.date.today() - dt.timedelta(days=3)).isoformat()


def fire(calls: list[Callable[[], requests.Response]], timeout: float = 60) -> list[requests.Response]:
    """Run the calls at the same moment, one thread each; their responses in the order of ``calls``."""
    barrier = threading.Barrier(len(calls))
    out: list[requests.Response | None] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(i: int, call: Callable[[], requests.Response]) -> None:
        try:
            barrier.wait(timeout)
            out[i] = call()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not errors, errors
    assert all(r is not None for r in out), "a request did not finish in time"
    return out  # type: ignore[return-value]


def no_server_error(responses: list[requests.Response]) -> None:
    """Fail with the status and body of the first 5xx."""
    for r in responses:
        assert r.status_code < 500, f"{r.request.method} {r.request.url} answered {r.status_code}: {r.text[:300]}"


def person(pnr: str | None = None, *, ext: str | None = None, first: str = "Kid", last: str = "Racer",
           birth: str | None = None) -> dict:
    """A participant given inline: by personal number, or by name and birth date."""
    out: dict = {"first_name": first, "last_name": last, "present": True}
    if pnr:
        out["personnummer"] = pnr
    if birth:
        out["birth_date"] = birth
    if ext:
        out["person_id"] = ext
    return out


def session_body(orgnr: str, participants: list[dict], *, stop: str = "19:30", card: str = "1") -> dict:
    """A valid session (one leader given inline by personal number)."""
    return {"organisationsnummer": orgnr, "card_number": card, "date": DAY, "start_time": "18:00",
            "stop_time": stop, "type": "Traening", "activity": "Fotboll", "participants": participants,
            "leaders": [{"personnummer": make_pnr(dt.date(1980, 3, 3), 51), "first_name": "Lea",
                         "last_name": "Der", "present": True}]}


def dak_file(orgnr: str, kod: str, pnrs: list[str], *, card: str = "1", kommun: str = "2480",
             lokal: str = "Hallen", card_lokal: bool = True, session_lokal: bool = True) -> bytes:
    """A valid DAK 2.2 file with one session ``kod`` on card ``card`` (at facility ``lokal``) whose
    participants have these numbers; ``card_lokal=False`` or ``session_lokal=False`` leave out the Lokal the
    schema requires there (an invalid file)."""
    card_place = f"<Lokal>{lokal}</Lokal>" if card_lokal else ""
    session_place = f"<Lokal>{lokal}</Lokal>" if session_lokal else ""
    kids = {f"d{i}": p for i, p in enumerate(pnrs)}
    marks = "".join(f'<Deltagare id="{k}"><Handikapp>false</Handikapp><Naervarande>true</Naervarande>'
                    "</Deltagare>" for k in kids)
    register = "".join(f'<Deltagare id="{k}"><Foernamn>Kid</Foernamn><Efternamn>Dak</Efternamn>'
                       f"<Personnummer>{v}</Personnummer></Deltagare>" for k, v in kids.items())
    leader = make_pnr(dt.date(1980, 3, 3), 51)
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<Aktivitetskort xmlns="{NS_22}">\n'
            f'<Kommun kommunID="{kommun}" version="2.2">\n'
            f'<Foerening foereningsID="F1" foereningsNamn="IFK" organisationsnummer="{orgnr}">\n'
            f'<Naervarokort NaervarokortNummer="{card}"><Aktivitet>Fotboll</Aktivitet>{card_place}'
            "<Sammankomster>\n"
            f'<Sammankomst kod="{kod}" Datum="{DAY}"><StartTid>18:00:00</StartTid><StoppTid>19:30:00</StoppTid>'
            f"<Aktivitet>Fotboll</Aktivitet>{session_place}<Typ>Traening</Typ><Metod>Add</Metod>"
            f"<DeltagarLista>{marks}"
            '</DeltagarLista><LedarLista><Ledare id="l1"><Handikapp>false</Handikapp><Naervarande>true'
            "</Naervarande></Ledare></LedarLista></Sammankomst>\n"
            "</Sammankomster></Naervarokort>\n</Foerening>\n</Kommun>\n"
            f"<DeltagarRegister>{register}</DeltagarRegister>\n"
            '<LedarRegister><Ledare id="l1"><Foernamn>Lea</Foernamn><Efternamn>Der</Efternamn>'
            f"<Personnummer>{leader}</Personnummer></Ledare></LedarRegister>\n</Aktivitetskort>\n").encode()


def kid_pnr(n: int) -> str:
    """A valid personal number of a child, distinct for each ``n`` (up to 27 * 900)."""
    return make_pnr(dt.date(2012, 1, 1) + dt.timedelta(days=n % 27), 100 + n // 27)


# --- what is stored -------------------------------------------------------------------------------------


def sessions_with_code(app, tenant_id: int, kod: str) -> int:
    """How many sessions carry the session code (any partner) in the tenant."""
    with app.app_context(), tenant_scope(tenant_id):
        return db.session.scalar(select(func.count()).select_from(ActivitySession).where(
            ActivitySession.partner_code == kod))


def attendance_of(app, tenant_id: int, kod: str) -> set[int]:
    """The person ids marked in the session with the code."""
    with app.app_context(), tenant_scope(tenant_id):
        return set(db.session.scalars(select(Attendance.person_id).join(ActivitySession, (
            ActivitySession.tenant_id == Attendance.tenant_id) & (ActivitySession.id == Attendance.session_id))
            .where(ActivitySession.partner_code == kod)))


def people_with_number(app, tenant_id: int, pnr: str) -> int:
    """How many people of the tenant have this personal number."""
    with app.app_context(), tenant_scope(tenant_id):
        return db.session.scalar(select(func.count()).select_from(Person).where(
            Person.pnr_hash == pnr_hash(pnr)))


def people_named(app, tenant_id: int, first: str, last: str) -> int:
    """How many people of the tenant without a personal number have this name."""
    with app.app_context(), tenant_scope(tenant_id):
        return db.session.scalar(select(func.count()).select_from(Person).where(
            Person.first_name == first, Person.last_name == last, Person.pnr_hash.is_(None)))


def external_ids(app, tenant_id: int, ext: str) -> int:
    """How many mappings of the partner's person id are stored."""
    with app.app_context(), tenant_scope(tenant_id):
        return db.session.scalar(select(func.count()).select_from(PartnerPerson).where(
            PartnerPerson.external_id == ext))
