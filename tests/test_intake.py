"""The one intake: bad input is refused field by field and nothing of it is written; the rest goes through."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from apn.extensions import db
from apn.identity import decrypt_pnr
from apn.intake import AttendanceMark, PersonRef, SessionCommand, ingest
from apn.models import ActivitySession, Attendance, GrantPeriod, Person
from apn.tenancy import tenant_scope
from apn.testing import factories as f

T = dt.time.fromisoformat


@pytest.fixture
def setup(ctx):
    t = f.create_tenant()
    a = f.create_association(t)
    g = f.create_group(t, a)
    kids = [f.create_person(t, dt.date(2012, 1, i + 1)) for i in range(3)]
    leader = f.create_person(t, dt.date(1980, 3, 3))
    db.session.commit()
    return t, a, g, kids, leader


def _cmd(a, g, **kw) -> SessionCommand:
    base = dict(association_id=a.id, group_id=g.id, session_date=dt.date(2025, 3, 4), start_time=T("18:00"),
                stop_time=T("19:00"), channel="web")
    base.update(kw)
    return SessionCommand(**base)


def _counts(t) -> tuple[int, int, int]:
    with tenant_scope(t.id):
        return (db.session.scalar(select(func.count()).select_from(ActivitySession)),
                db.session.scalar(select(func.count()).select_from(Attendance)),
                db.session.scalar(select(func.count()).select_from(Person)))


@pytest.mark.parametrize("changes, field, words", [
    ({"stop_time": T("09:00")}, "stop_time", "after the start"),
    ({"stop_time": T("10:00")}, "stop_time", "after the start"),
    ({"session_date": dt.date(1999, 12, 31)}, "date", "out of range"),
    ({"session_date": None}, "date", "missing"),
    ({"start_time": None}, "start_time", "missing"),
    ({"session_type": "Party"}, "type", "Traening"),
    ({"stop_date": dt.date(2025, 3, 3)}, "stop_date", "before the date"),
    ({"stop_date": dt.date(2025, 3, 6)}, "stop_time", "at most 24 hours"),
    ({"channel": "fax"}, "channel", "web"),
    ({"activity": "x" * 121}, "activity", "at most 120"),
    ({"partner_code": "x"}, "kod", "3–50"),
    ({"group_id": 999999}, "group_id", "unknown group"),
    ({"association_id": 999999}, "association", "unknown association"),
    ({"facility_id": 999999}, "facility_id", "unknown facility"),
    ({"attendance": [AttendanceMark(PersonRef(personnummer="201201019999"))]}, "attendance[0].personnummer",
     "check digit"),
    ({"attendance": [AttendanceMark(PersonRef(first_name="Ada"))]}, "attendance[0].last_name",
     "first name, last name and birth date"),
    ({"attendance": [AttendanceMark(PersonRef(person_id=424242))]}, "attendance[0].person_id", "unknown person"),
    ({"attendance": [AttendanceMark(PersonRef(person_id=1), role="boss")]}, "attendance[0].role", "participant"),
])
def test_bad_command_is_refused_with_field_and_nothing_written(setup, changes, field, words):
    t, a, g, kids, leader = setup
    before = _counts(t)
    good = _cmd(a, g, ref="good", attendance=[AttendanceMark(PersonRef(person_id=kids[0].id))])
    bad = _cmd(a, g, ref="bad", **{"start_time": T("10:00"), "stop_time": T("11:00"), **changes})
    with tenant_scope(t.id):
        res = ingest([bad, good])
    db.session.commit()
    assert [r.ref for r in res.refused] == ["bad"]
    assert res.refused[0].field == field
    assert words in res.refused[0].reason
    assert [o.ref for o in res.accepted] == ["good"]
    after = _counts(t)
    assert after[0] == before[0] + 1 and after[1] == before[1] + 1 and after[2] == before[2]


def test_session_crossing_midnight(setup):
    t, a, g, kids, leader = setup
    cmd = _cmd(a, g, start_time=T("23:30"), stop_time=T("00:30"), stop_date=dt.date(2025, 3, 5))
    with tenant_scope(t.id):
        res = ingest([cmd])
        s = db.session.get(ActivitySession, (t.id, res.accepted[0].session_id))
        assert s.duration_minutes == 60
        assert s.ends_at == dt.datetime(2025, 3, 5, 0, 30)


def test_new_people_by_personnummer_and_by_name_are_created_once(setup):
    t, a, g, kids, leader = setup
    pnr = f.make_pnr(dt.date(2011, 6, 6), 7, female=True)
    marks = [AttendanceMark(PersonRef(personnummer=pnr, first_name="Elsa", last_name="Berg")),
             AttendanceMark(PersonRef(first_name="Nils", last_name="Ek", birth_date=dt.date(2014, 2, 2), sex="M"))]
    with tenant_scope(t.id):
        ingest([_cmd(a, g, attendance=marks)])
        ingest([_cmd(a, g, session_date=dt.date(2025, 3, 5), attendance=marks)])
        people = db.session.execute(select(Person).where(Person.last_name.in_(["Berg", "Ek"]))).scalars().all()
    assert len(people) == 2
    elsa = next(p for p in people if p.last_name == "Berg")
    assert elsa.birth_date == dt.date(2011, 6, 6) and elsa.sex == "F"
    assert decrypt_pnr(elsa.pnr_encrypted) == pnr
    nils = next(p for p in people if p.last_name == "Ek")
    assert nils.pnr_hash is None and nils.masked_identity == "20140202"


def test_partner_code_add_replaces_update_patches_remove_deletes(setup):
    t, a, g, kids, leader = setup
    k0, k1, k2 = kids
    add = _cmd(a, g, channel="api", partner_code="S-001", attendance=[
        AttendanceMark(PersonRef(person_id=k0.id)), AttendanceMark(PersonRef(person_id=k1.id)),
        AttendanceMark(PersonRef(person_id=leader.id), role="leader")])
    with tenant_scope(t.id):
        first = ingest([add]).accepted[0]
        assert (first.action, first.participations, first.leader_participations) == ("created", 2, 1)
        # Add again with the same code replaces the session whole
        again = _cmd(a, g, channel="api", partner_code="S-001", stop_time=T("20:00"),
                     attendance=[AttendanceMark(PersonRef(person_id=k2.id))])
        second = ingest([again]).accepted[0]
        assert second.action == "replaced" and second.session_id == first.session_id
        assert second.participations == 1
        s = db.session.get(ActivitySession, (t.id, first.session_id))
        db.session.refresh(s)
        assert s.duration_minutes == 120
        # Update applies only the marks sent
        upd = SessionCommand(association_id=a.id, group_id=None, session_date=dt.date(2025, 3, 4), start_time=None,
                             stop_time=None, channel="api", method="update", partner_code="S-001",
                             attendance=[AttendanceMark(PersonRef(person_id=k0.id)),
                                         AttendanceMark(PersonRef(person_id=k2.id), present=False)])
        before_update = s.updated_at
        third = ingest([upd]).accepted[0]
        assert third.action == "updated" and third.participations == 1  # k0 present, k2 now absent
        db.session.refresh(s)
        assert s.updated_at > before_update  # change feeds see an attendance-only update
        # an update without marks changes nothing and still reports the stored counts
        bare = SessionCommand(association_id=a.id, group_id=None, session_date=dt.date(2025, 3, 4), start_time=None,
                              stop_time=None, channel="api", method="update", partner_code="S-001")
        assert ingest([bare]).accepted[0].participations == 1
        # Remove deletes it and its attendance
        rem = SessionCommand(association_id=a.id, group_id=None, session_date=None, start_time=None,
                             stop_time=None, channel="api", method="remove", partner_code="S-001")
        assert ingest([rem]).accepted[0].action == "removed"
        assert db.session.scalar(select(func.count()).select_from(Attendance)) == 0
        # removing again is a clear refusal
        res = ingest([rem])
        assert res.refused[0].field == "kod" and "no such session" in res.refused[0].reason


def test_closed_period_refuses_new_and_changed_sessions(setup):
    t, a, g, kids, leader = setup
    with tenant_scope(t.id):
        res = ingest([_cmd(a, g, partner_code="C-001", channel="api")])
        assert res.accepted
        gp = GrantPeriod(tenant_id=t.id, code="2025H1", starts_on=dt.date(2025, 1, 1), ends_on=dt.date(2025, 6, 30),
                         deadline=dt.date(2025, 8, 25), status="closed")
        existing = db.session.execute(select(GrantPeriod).where(GrantPeriod.code == "2025H1")).scalar_one_or_none()
        if existing:
            existing.status = "closed"
        else:
            db.session.add(gp)
        db.session.flush()
        res = ingest([_cmd(a, g, session_date=dt.date(2025, 4, 1))])
        assert res.refused[0].field == "date" and "2025H1 is closed" in res.refused[0].reason
        rem = SessionCommand(association_id=a.id, group_id=None, session_date=None, start_time=None,
                             stop_time=None, channel="api", method="remove", partner_code="C-001")
        assert "closed" in ingest([rem]).refused[0].reason


def test_person_listed_twice_is_counted_once_and_noted(setup):
    t, a, g, kids, leader = setup
    marks = [AttendanceMark(PersonRef(person_id=kids[0].id)), AttendanceMark(PersonRef(person_id=kids[0].id))]
    with tenant_scope(t.id):
        out = ingest([_cmd(a, g, attendance=marks)]).accepted[0]
    assert out.participations == 1
    assert [n["kind"] for n in out.notes] == ["listed_twice"]


def test_another_tenants_group_is_unknown(setup):
    t, a, g, kids, leader = setup
    other = f.create_tenant()
    oa = f.create_association(other)
    og = f.create_group(other, oa)
    with tenant_scope(t.id):
        res = ingest([_cmd(a, og)])
        res2 = ingest([_cmd(oa, og)])
    assert res.refused[0].field == "group_id"
    assert res2.refused[0].field == "association"


def test_a_session_twice_in_one_batch_is_refused_the_second_time(setup):
    t, a, g, kids, leader = setup
    first = _cmd(a, g, channel="api", partner_code="D-001", attendance=[
        AttendanceMark(PersonRef(person_id=kids[0].id)), AttendanceMark(PersonRef(person_id=leader.id), role="leader")])
    again = _cmd(a, g, channel="api", partner_code="D-001", stop_time=T("20:00"), attendance=[
        AttendanceMark(PersonRef(person_id=kids[1].id)), AttendanceMark(PersonRef(person_id=leader.id), role="leader")])
    with tenant_scope(t.id):
        res = ingest([first, again])
    assert [o.action for o in res.accepted] == ["created"]
    assert [(r.field, r.reason) for r in res.refused] == [("kod", "the same session appears twice in this batch")]
