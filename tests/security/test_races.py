"""Races answer a replay, a 409 or the documented 422, never a 500, and store nothing twice (issue 11 item 12).

Real concurrent HTTP requests against the test app (SQLite or PostgreSQL, as the suite runs) served on
127.0.0.1 in threads: the same session code with the same Idempotency-Key and body, with the same key and
another body, with other keys, through the API and a DAK file at once, and two requests creating the same
new person (by personal number, by name and birth date, by the partner's person id).
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import requests
from racekit import (
    attendance_of,
    dak_file,
    external_ids,
    fire,
    kid_pnr,
    no_server_error,
    people_named,
    people_with_number,
    person,
    session_body,
    sessions_with_code,
)

from tests.api.conftest import make_partner

ROUNDS = 4
DAY_APP = (dt.date.today() - dt.timedelta(days=1)).isoformat()
WIDTH = 4  # requests per race

_n = itertools.count(1)



@pytest.fixture
def p(app, live):
    """A partner with a token and its attendance card 1."""
    partner = make_partner(app)
    r = requests.put(f"{live.url}/api/v1/associations/{partner.orgnr}/groups/1", json={"name": "P13"},
                     headers=partner.headers, timeout=30)
    assert r.status_code in (200, 201), r.text
    return partner


def _put(live, p, kod: str, body: dict, key: str | None = None):
    headers = {**p.headers, **({"Idempotency-Key": key} if key else {})}
    return lambda: requests.put(f"{live.url}/api/v1/sessions/{kod}", json=body, headers=headers, timeout=60)


def _kids(k: int = 3) -> list[dict]:
    return [person(kid_pnr(next(_n))) for _ in range(k)]


def test_same_key_and_body_replays_the_first_answer(app, live, p):
    for r in range(ROUNDS):
        kod = f"RACE-SAME-{r}"
        body = session_body(p.orgnr, _kids())
        answers = fire([_put(live, p, kod, body, key=f"same-{r}") for _ in range(WIDTH)])
        no_server_error(answers)
        assert [a.status_code for a in answers] == [201] * WIDTH
        assert sum(1 for a in answers if a.headers.get("Idempotent-Replayed") != "true") == 1
        assert all(a.json() == answers[0].json() for a in answers)
        assert sessions_with_code(app, p.tenant_id, kod) == 1


def test_same_key_with_other_bodies_is_refused_not_500(app, live, p):
    for r in range(ROUNDS):
        kod = f"RACE-OTHER-{r}"
        bodies = [session_body(p.orgnr, _kids(), stop=f"19:{30 + i}") for i in range(WIDTH)]
        answers = fire([_put(live, p, kod, b, key=f"other-{r}") for b in bodies])
        no_server_error(answers)
        codes = sorted(a.status_code for a in answers)
        assert codes == [201] + [422] * (WIDTH - 1), [a.text[:200] for a in answers]
        for a in answers:
            if a.status_code == 422:
                assert "Idempotency-Key" in a.json()["errors"]["headers"]
        assert sessions_with_code(app, p.tenant_id, kod) == 1


def test_other_keys_for_one_new_code_store_one_session(app, live, p):
    for r in range(ROUNDS):
        kod = f"RACE-KEYS-{r}"
        bodies = [session_body(p.orgnr, _kids()) for _ in range(WIDTH)]
        answers = fire([_put(live, p, kod, b, key=f"keys-{r}-{i}" if i % 2 else None)
                        for i, b in enumerate(bodies)])
        no_server_error(answers)
        codes = [a.status_code for a in answers]
        # The first creates; the others replace it (they ran after it) or lost the race to it (409).
        assert codes.count(201) == 1 and set(codes) <= {200, 201, 409}, codes
        for a in answers:
            if a.status_code == 409:
                assert a.json()["errors"]["path"]["kod"] and a.json()["error_code"] == "concurrent_write", a.json()
        assert sessions_with_code(app, p.tenant_id, kod) == 1
        # The stored attendance is one request's, whole: never a mix of two.
        stored = attendance_of(app, p.tenant_id, kod)
        assert any(len(stored) == len(b["participants"]) + 1 for b in bodies)


def test_replacing_one_session_at_once_keeps_one_whole_attendance(app, live, p):
    for r in range(ROUNDS):
        kod = f"RACE-REPL-{r}"
        assert _put(live, p, kod, session_body(p.orgnr, _kids()))().status_code == 201
        bodies = [session_body(p.orgnr, _kids(2 + i)) for i in range(WIDTH)]
        answers = fire([_put(live, p, kod, b) for b in bodies])
        no_server_error(answers)
        assert set(a.status_code for a in answers) <= {200, 409}
        assert sessions_with_code(app, p.tenant_id, kod) == 1
        stored = attendance_of(app, p.tenant_id, kod)
        assert len(stored) in {len(b["participants"]) + 1 for b, a in zip(bodies, answers, strict=True)
                               if a.status_code == 200}


def test_api_and_dak_with_one_code_store_one_session(app, live, p):
    for r in range(ROUNDS):
        kod = f"RACE-DAK-{r}"
        pnrs = [kid_pnr(next(_n)) for _ in range(3)]
        xml = dak_file(p.orgnr, kod, pnrs)
        dak = lambda xml=xml: requests.post(  # noqa: E731
            f"{live.url}/api/v1/dak", data=xml, headers={**p.headers, "Content-Type": "application/xml"},
            timeout=60)
        api = _put(live, p, kod, session_body(p.orgnr, [person(n) for n in pnrs]))
        answers = fire([api, dak, api, dak])
        no_server_error(answers)
        assert {a.status_code for a in answers[::2]} <= {200, 201, 409}
        assert {a.status_code for a in answers[1::2]} == {200}
        for a in answers[1::2]:  # each file's one session was taken, or lost the race with its code said
            report = a.json()
            assert report["accepted"]["sessions"] + report["refused_total"] == 1, report
            assert all(x["code"] == "concurrent_write" for x in report["refused"]), report
        assert any(a.json()["accepted"]["sessions"] == 1 for a in answers[1::2]), "no DAK file got through"
        assert sessions_with_code(app, p.tenant_id, kod) == 1
        for n in pnrs:
            assert people_with_number(app, p.tenant_id, n) == 1


def test_two_requests_creating_one_new_person_store_it_once(app, live, p):
    for r in range(ROUNDS):
        pnr = kid_pnr(next(_n))
        named = {"first": f"Namn{r}", "last": "Utan Nummer", "birth": "2013-02-03"}
        ext = f"ext-{r}"
        calls = []
        for i in range(WIDTH):
            people = [person(pnr), person(**named), person(kid_pnr(next(_n)), ext=ext)]
            calls.append(_put(live, p, f"RACE-NEW-{r}-{i}", session_body(p.orgnr, people)))
        answers = fire(calls)
        no_server_error(answers)
        assert [a.status_code for a in answers] == [201] * WIDTH, [a.text[:200] for a in answers]
        assert people_with_number(app, p.tenant_id, pnr) == 1
        assert people_named(app, p.tenant_id, named["first"], named["last"]) == 1
        assert external_ids(app, p.tenant_id, ext) == 1


def test_the_people_endpoint_raced_creates_one_person(app, live, p):
    for r in range(ROUNDS):
        pnr = kid_pnr(next(_n))
        bodies = [{"personnummer": pnr, "first_name": "Alva", "last_name": "Berg"},
                  {"first_name": f"Bo{r}", "last_name": "Namnsson", "birth_date": "2011-04-05"}]
        for j, body in enumerate(bodies):
            url = f"{live.url}/api/v1/associations/{p.orgnr}/people/pp-{r}-{j}"
            answers = fire([lambda url=url, body=body: requests.put(url, json=body, headers=p.headers, timeout=60)
                            for _ in range(WIDTH)])
            no_server_error(answers)
            assert {a.status_code for a in answers} <= {200, 201}
            assert external_ids(app, p.tenant_id, f"pp-{r}-{j}") == 1
        assert people_with_number(app, p.tenant_id, pnr) == 1
        assert people_named(app, p.tenant_id, f"Bo{r}", "Namnsson") == 1


def test_requests_creating_one_new_facility_or_card_give_no_500(app, live, p):
    from sqlalchemy import func, select

    from apn.extensions import db
    from apn.models import Facility, Group
    from apn.tenancy import tenant_scope

    for r in range(ROUNDS):
        calls = [_put(live, p, f"RACE-FAC-{r}-{i}", {**session_body(p.orgnr, _kids(1)), "facility": f"Hall {r}"})
                 for i in range(WIDTH // 2)]
        for i in range(WIDTH // 2):
            xml = dak_file(p.orgnr, f"RACE-CARD-{r}-{i}", [kid_pnr(next(_n))], card=f"9{r}")
            calls.append(lambda xml=xml: requests.post(
                f"{live.url}/api/v1/dak", data=xml, headers={**p.headers, "Content-Type": "application/xml"},
                timeout=60))
        answers = fire(calls)
        no_server_error(answers)
        # The whole answer of any other status (a DAK report lists every refused session with its reason).
        assert {a.status_code for a in answers} <= {200, 201, 409}, [(a.status_code, a.text) for a in answers]
        for a in answers[WIDTH // 2:]:  # every DAK file's one session was stored on the new card
            assert a.json()["accepted"]["sessions"] == 1, a.text
        with app.app_context(), tenant_scope(p.tenant_id):
            assert db.session.scalar(select(func.count()).select_from(Group).where(
                Group.partner_card_number == f"9{r}")) == 1
            assert db.session.scalar(select(func.count()).select_from(Facility).where(
                Facility.name == f"Hall {r}")) == 1


def test_one_new_card_put_at_once_is_stored_once_and_never_500(app, live, p):
    from sqlalchemy import func, select

    from apn.extensions import db
    from apn.models import Group
    from apn.tenancy import tenant_scope

    for r in range(ROUNDS):
        url = f"{live.url}/api/v1/associations/{p.orgnr}/groups/C{r}"
        bodies = [{"name": f"Lag {i}", "facility": f"Plan {r}"} for i in range(WIDTH)]
        answers = fire([lambda url=url, b=b: requests.put(url, json=b, headers=p.headers, timeout=60)
                        for b in bodies])
        no_server_error(answers)
        codes = [a.status_code for a in answers]
        assert codes.count(201) == 1 and set(codes) <= {200, 201, 409}, codes
        for a in answers:
            if a.status_code == 409:
                assert a.json()["error_code"] == "concurrent_write" and a.headers["Retry-After"]
        with app.app_context(), tenant_scope(p.tenant_id):
            assert db.session.scalar(select(func.count()).select_from(Group).where(
                Group.partner_card_number == f"C{r}")) == 1


def test_the_leaders_app_raced_replays_refuses_and_creates_each_person_once(app, live):
    from tests.leader.leaderhelpers import PASSWORD, build_world

    with app.app_context():
        w = build_world()
    http = requests.Session()
    r = http.post(f"{live.url}/login", data={"email": w.email, "password": PASSWORD}, allow_redirects=False,
                  timeout=30)
    assert r.status_code == 302, r.text[:300]
    url = f"{live.url}/k/{w.slug}/app/sessions"

    def body(start: str, new_people: list[dict]) -> dict:
        return {"group_id": w.group_id, "date": DAY_APP, "start": start, "stop": "23:00",
                "facility_id": w.facility_id, "session_type": "Traening", "present": w.participant_ids[:2],
                "leaders": [w.leader_id], "temporary_leaders": [], "disabled": [], "new_people": new_people}

    def post(b: dict, key: str):
        return lambda: http.post(url, json=b, headers={"Idempotency-Key": key, "Accept": "application/json"},
                                 timeout=60)

    for r in range(ROUNDS):
        same = body(f"1{r}:00", [])
        answers = fire([post(same, f"app-same-{r:04d}") for _ in range(WIDTH)])
        no_server_error(answers)
        assert [a.status_code for a in answers] == [201] * WIDTH, [a.text[:200] for a in answers]
        assert all(a.json() == answers[0].json() for a in answers)
        others = [body(f"1{r}:{10 + i}", []) for i in range(WIDTH)]
        answers = fire([post(b, f"app-other-{r:04d}") for b in others])
        no_server_error(answers)
        assert sorted(a.status_code for a in answers) == [201] + [422] * (WIDTH - 1)
        pnr = kid_pnr(5000 + r)
        new = [body(f"1{r}:{30 + i}", [{"personnummer": pnr, "first_name": "Ny", "last_name": "Racer"},
                                       {"first_name": f"Namn{r}", "last_name": "Appsson",
                                        "birth_date": "2014-05-06"}]) for i in range(WIDTH)]
        answers = fire([post(b, f"app-new-{r:04d}-{i}") for i, b in enumerate(new)])
        no_server_error(answers)
        assert {a.status_code for a in answers} <= {201, 409}, [a.text[:200] for a in answers]
        assert people_with_number(app, w.tenant_id, pnr) == 1
        assert people_named(app, w.tenant_id, f"Namn{r}", "Appsson") == 1
