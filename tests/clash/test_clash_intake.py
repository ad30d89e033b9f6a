"""Clashes found at intake: boundaries, the five kinds, every channel, corrections and deletions."""

from __future__ import annotations

import datetime as dt

import pytest
from clashkit import DAY, command, report
from sqlalchemy import select

from apn.clash import flags_for_sessions
from apn.extensions import db
from apn.models import ClashFlag
from apn.tenancy import tenant_scope

CHANNELS = ("web", "app", "api", "dak")


def flags(tenant, kind=None):
    """The tenant's flags as (kind, session_id, other_session_id, person_id), sorted."""
    with tenant_scope(tenant.id):
        q = select(ClashFlag)
        if kind:
            q = q.where(ClashFlag.kind == kind)
        rows = db.session.execute(q).scalars().all()
        return sorted((r.kind, r.session_id, r.other_session_id, r.person_id) for r in rows)


def sid(result, i=0):
    return result.accepted[i].session_id


# --- boundaries --------------------------------------------------------------------------------------------

def test_a_session_ending_when_the_other_starts_is_no_clash(world):
    p = world.people[0]
    report(world.tenant, command(world.ga, start="17:00", stop="18:00", participants=[p]))
    r = report(world.tenant, command(world.gb, start="18:00", stop="19:00", participants=[p]))
    assert flags(world.tenant) == []
    assert r.accepted[0].notes == []


def test_one_minute_overlap_is_flagged_with_both_sides(world):
    p, q = world.people[:2]
    first = report(world.tenant, command(world.ga, start="17:00", stop="18:01", participants=[p, q]))
    second = report(world.tenant, command(world.gb, start="18:00", stop="19:00", participants=[p]))
    s1, s2 = sid(first), sid(second)
    assert flags(world.tenant) == [("person_overlap", min(s1, s2), max(s1, s2), p.id)]
    views = flags_for_sessions(world.tenant.id, [s1, s2])
    assert [v["kind"] for v in views[s1]] == ["person_overlap"]
    assert [v["kind"] for v in views[s2]] == ["person_overlap"]


def test_sessions_crossing_midnight(world):
    p = world.people[0]
    night = report(world.tenant, command(world.ga, start="23:30", stop="00:30", stop_date=DAY + dt.timedelta(days=1),
                                         participants=[p]))
    early = report(world.tenant, command(world.gb, date=DAY + dt.timedelta(days=1), start="00:15", stop="01:00",
                                         participants=[p]))
    # Starts when the night session has ended and the early one ends: no clash.
    later = report(world.tenant, command(world.ga2, date=DAY + dt.timedelta(days=1), start="01:00", stop="02:00",
                                         participants=[p]))
    assert flags(world.tenant) == [("person_overlap", sid(night), sid(early), p.id)]
    assert later.accepted[0].notes == []


def test_a_session_of_the_longest_allowed_length_is_found_by_the_time_bounded_lookup(world):
    # The check reads a person's attendances that start at most 24 hours (the longest session the intake
    # accepts) before the new session: a 24-hour session started the day before must still be found, and
    # one that ended exactly when the new one starts must not.
    p, q = world.people[:2]
    camp = report(world.tenant, command(world.ga, start="19:00", stop="19:00", stop_date=DAY + dt.timedelta(days=1),
                                        participants=[p, q]))
    ended = report(world.tenant, command(world.ga2, start="18:00", stop="19:00", participants=[q]))
    late = report(world.tenant, command(world.gb, date=DAY + dt.timedelta(days=1), start="18:59", stop="20:00",
                                        participants=[p]))
    assert flags(world.tenant) == [("person_overlap", sid(camp), sid(late), p.id)]
    assert ended.accepted[0].notes == []


def test_attendance_carries_its_session_times_and_the_database_keeps_them_equal(world):
    from sqlalchemy.exc import IntegrityError

    from apn.models import ActivitySession, Attendance

    p = world.people[0]
    one = report(world.tenant, command(world.ga, participants=[p], code="k-span"))
    with tenant_scope(world.tenant.id):
        session = db.session.get(ActivitySession, (world.tenant.id, sid(one)))
        att = db.session.execute(select(Attendance)).scalar_one()
        assert (att.starts_at, att.ends_at) == (session.starts_at, session.ends_at)
        # a change of the session's times reaches its attendance (ON UPDATE CASCADE) ...
        later = (session.starts_at + dt.timedelta(hours=1), session.ends_at + dt.timedelta(hours=1))
        db.session.execute(ActivitySession.__table__.update().where(
            ActivitySession.tenant_id == world.tenant.id, ActivitySession.id == session.id).values(
            starts_at=later[0], ends_at=later[1]))
        db.session.expire_all()
        att = db.session.execute(select(Attendance)).scalar_one()
        assert (att.starts_at, att.ends_at) == later
        # ... and attendance with other times than its session's is refused
        with pytest.raises(IntegrityError):
            with db.session.begin_nested():
                db.session.execute(Attendance.__table__.update().where(
                    Attendance.tenant_id == world.tenant.id).values(ends_at=later[1] + dt.timedelta(minutes=5)))
    db.session.rollback()


# --- the five kinds, through every channel -----------------------------------------------------------------

@pytest.mark.parametrize("channel", CHANNELS)
def test_person_in_two_associations_at_once(world, channel):
    p = world.people[0]
    report(world.tenant, command(world.ga, participants=[p, world.people[1]], channel="web"))
    r = report(world.tenant, command(world.gb, start="18:30", stop="20:00", participants=[p, world.people[2]],
                                     channel=channel, code=f"kod-{channel}"))
    notes = r.accepted[0].notes
    assert [n["kind"] for n in notes] == ["person_overlap"]
    note = notes[0]
    assert note["person_id"] == p.id and note["status"] == "open"
    # Another association's session is not identified, nor named.
    assert "other_session_id" not in note
    assert "IFK" not in note["message"] and "IFK" not in note["message_sv"]


@pytest.mark.parametrize("channel", CHANNELS)
def test_same_session_reported_twice(world, channel):
    people = world.people[:10]
    app = report(world.tenant, command(world.ga, participants=people, channel="app"))
    # The partner system reports nine of the ten, plus one more: Jaccard 9/11 ≥ 0.6.
    again = report(world.tenant, command(world.ga, start="18:05", stop="19:00", channel=channel, code="p-77",
                                         participants=people[1:] + [world.people[10]]))
    s1, s2 = sid(app), sid(again)
    assert flags(world.tenant) == [("double_report", s1, s2, None)]
    note = again.accepted[0].notes[0]
    assert note["kind"] == "double_report" and note["other_session_id"] == s1


def test_two_groups_of_one_association_sharing_few_people_are_no_double_report(world):
    people = world.people
    one = report(world.tenant, command(world.ga, participants=people[:5]))
    two = report(world.tenant, command(world.ga2, participants=people[4:10]))  # 1 of 10 in common
    assert flags(world.tenant) == [("person_overlap", sid(one), sid(two), people[4].id)]
    note = two.accepted[0].notes[0]
    assert note["other_session_id"] == sid(one)  # the reporter's own association: may be identified


@pytest.mark.parametrize("channel", CHANNELS)
def test_leader_leading_two_sessions_at_once(world, channel):
    leader = world.people[0]
    one = report(world.tenant, command(world.ga, participants=world.people[1:4], leaders=[leader]))
    two = report(world.tenant, command(world.gb, participants=world.people[5:8], leaders=[leader], channel=channel,
                                       code=f"l-{channel}"))
    assert flags(world.tenant) == [("leader_overlap", sid(one), sid(two), leader.id)]
    assert [n["kind"] for n in two.accepted[0].notes] == ["leader_overlap"]


@pytest.mark.parametrize("channel", CHANNELS)
def test_person_listed_twice_is_persisted(world, channel):
    p = world.people[0]
    r = report(world.tenant, command(world.ga, participants=[p, world.people[1], p], channel=channel, code="dup-1"))
    assert flags(world.tenant) == [("listed_twice", sid(r), None, p.id)]
    notes = r.accepted[0].notes
    assert len(notes) == 1 and notes[0]["kind"] == "listed_twice" and notes[0]["flag_id"]
    # Reported again whole, without the duplicate: the flag goes.
    report(world.tenant, command(world.ga, participants=[p, world.people[1]], channel=channel, code="dup-1"))
    assert flags(world.tenant) == []


# --- corrections and deletions clear flags -----------------------------------------------------------------

def test_correcting_the_time_clears_the_flag(world):
    p = world.people[0]
    one = report(world.tenant, command(world.ga, participants=[p], channel="dak", code="k-100"))
    report(world.tenant, command(world.gb, participants=[p], channel="api", code="k-200"))
    assert len(flags(world.tenant)) == 1
    fixed = report(world.tenant, command(world.ga, start="16:00", stop="17:00", participants=[p], channel="dak",
                                         code="k-100"))
    assert fixed.accepted[0].action == "replaced" and sid(fixed) == sid(one)
    assert flags(world.tenant) == []


def test_marking_the_person_absent_clears_the_flag(world):
    p, q = world.people[:2]
    report(world.tenant, command(world.ga, participants=[p, q], code="k-300"))
    report(world.tenant, command(world.gb, participants=[p]))
    assert len(flags(world.tenant)) == 1
    upd = command(world.ga, participants=[p], absent=[p], method="update", code="k-300", start=None, stop=None)
    report(world.tenant, upd)
    assert flags(world.tenant) == []


def test_deleting_one_side_clears_the_flag_and_leaves_the_other_side_clean(world):
    p = world.people[0]
    report(world.tenant, command(world.ga, participants=[p], code="k-400"))
    keep = report(world.tenant, command(world.gb, participants=[p]))
    assert len(flags(world.tenant)) == 1
    gone = command(world.ga, method="remove", code="k-400", start=None, stop=None)
    report(world.tenant, gone)
    assert flags(world.tenant) == []
    assert flags_for_sessions(world.tenant.id, [sid(keep)]) == {}


def test_three_overlapping_sessions_give_a_flag_per_pair_and_a_correction_keeps_the_rest(world):
    p, x, y, z = world.people[:4]  # x, y, z keep the two sessions of association a from looking like one
    one = report(world.tenant, command(world.ga, participants=[p, x], code="t-1"))
    two = report(world.tenant, command(world.gb, participants=[p, y], start="18:30", stop="19:30"))
    three = report(world.tenant, command(world.ga2, participants=[p, z], start="18:45", stop="20:00"))
    a, b, c = sid(one), sid(two), sid(three)
    assert flags(world.tenant) == [("person_overlap", a, b, p.id), ("person_overlap", a, c, p.id),
                                   ("person_overlap", b, c, p.id)]
    report(world.tenant, command(world.ga, participants=[p, x], start="10:00", stop="11:00", code="t-1"))
    assert flags(world.tenant) == [("person_overlap", b, c, p.id)]


def test_a_batch_with_both_sides_flags_once(world):
    p = world.people[0]
    r = report(world.tenant, command(world.ga, participants=[p]), command(world.gb, participants=[p]))
    assert flags(world.tenant) == [("person_overlap", sid(r, 0), sid(r, 1), p.id)]
    assert [n["kind"] for n in r.accepted[0].notes] == ["person_overlap"]
    assert [n["kind"] for n in r.accepted[1].notes] == ["person_overlap"]


def test_reporting_the_same_batch_again_keeps_one_flag(world):
    p = world.people[0]
    cmds = [command(world.ga, participants=[p], code="r-1"), command(world.gb, participants=[p], code="r-2")]
    report(world.tenant, *cmds)
    report(world.tenant, *cmds)
    assert len(flags(world.tenant)) == 1


def test_people_without_a_personal_number_are_matched_by_person(world):
    from apn.intake import PersonRef

    ref = PersonRef(first_name="Lo", last_name="Berg", birth_date=dt.date(2013, 4, 4), sex="F")
    report(world.tenant, command(world.ga, refs=[ref]))
    ref2 = PersonRef(first_name="Lo", last_name="Berg", birth_date=dt.date(2013, 4, 4), sex="F")
    r = report(world.tenant, command(world.gb, refs=[ref2]))
    assert [n["kind"] for n in r.accepted[0].notes] == ["person_overlap"]
