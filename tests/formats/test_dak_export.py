"""DAK export: valid against the schema, counts, people without a personal number, round trip."""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree
from sqlalchemy import select

from apn.errors import NotFound
from apn.exports.dak import export_dak, export_dak_counts, export_dak_report
from apn.extensions import db
from apn.formats.dak import count_dak, import_dak, schema
from apn.models import ActivitySession, Attendance, Facility, Group, Person
from apn.tenancy import tenant_scope
from apn.testing.factories import (
    create_association,
    create_facility,
    create_group,
    create_person,
    create_tenant,
    report_session,
)


@pytest.fixture
def club(env):
    """A season of env.assoc: two groups, people with and one without a personal number."""
    t = env.tenant
    hall = create_facility(t, name="Sporthallen")
    g1 = create_group(t, env.assoc, name="P13", facility=hall, main_activity="Fotboll")
    g2 = create_group(t, env.assoc, name="Innebandy F15", main_activity="Innebandy")
    kids = [create_person(t, birth=dt.date(2012, 1, 1 + i), female=i % 2 == 0) for i in range(6)]
    no_pnr = create_person(t, birth=dt.date(2013, 5, 5), with_pnr=False, first_name="Utan", last_name="Nummer")
    lead = create_person(t, birth=dt.date(1980, 2, 2))
    report_session(t, g1, dt.date(2026, 2, 3), participants=kids[:4] + [no_pnr], leaders=[lead],
                   temporary_leaders=[kids[5]], disabled=[kids[1]], team_sport=True, facility_id=hall.id)
    report_session(t, g1, dt.date(2026, 2, 10), "23:30", "00:30", stop_date=dt.date(2026, 2, 11),
                   participants=kids[:2], leaders=[lead], session_type="Match")
    report_session(t, g2, dt.date(2026, 3, 1), participants=kids[3:], leaders=[lead], activity="Innebandy")
    report_session(t, g2, dt.date(2026, 8, 1), participants=kids, leaders=[lead])  # another period
    with tenant_scope(t.id):  # one absent mark
        db.session.execute(Attendance.__table__.update().where(
            Attendance.tenant_id == t.id, Attendance.person_id == kids[5].id,
            Attendance.role == "participant").values(present=False))
    db.session.commit()
    return {"kids": kids, "no_pnr": no_pnr, "lead": lead}


def _validates(xml: bytes, version: str) -> None:
    tree = etree.fromstring(xml).getroottree()
    xsd = schema(version)
    assert xsd.validate(tree), xsd.error_log


def test_export_22_is_valid_and_counted(env, club):
    exp = export_dak_report(env.tenant.id, env.assoc.id, "2026H1")
    _validates(exp.xml, "2.2")
    assert b"http://sverigesforeningssystem.se/importSchema.xsd" in exp.xml
    # Session 1: 4 present participants with a number (one without is left out), 1 temporary leader, 1 leader;
    # session 2: 2 + 1; session 3: kids 3,4 present, kid 5 absent, + 1 leader.
    assert exp.counts == {"sessions": 3, "participations": 8, "leader_participations": 4}
    assert exp.left_out == {"people": 1, "participations": 1, "leader_participations": 0, "marks": 1, "sessions": 0}
    assert count_dak(exp.xml) == exp.counts
    assert export_dak_counts(env.tenant.id, env.assoc.id, "2026H1") == exp.as_dict()
    assert b"<StoppDatum>2026-02-11</StoppDatum>" in exp.xml
    assert b"<TillfaelligLedare>true</TillfaelligLedare>" in exp.xml
    assert b"Utan" not in exp.xml


def test_export_21_is_valid_and_leaves_out_sessions_past_midnight(env, club):
    exp = export_dak_report(env.tenant.id, env.assoc.id, "2026H1", version="2.1")
    _validates(exp.xml, "2.1")
    assert b"http://aktivitetskort.net.umea.se/importSchema.xsd" in exp.xml and b"StoppDatum" not in exp.xml
    assert exp.counts == {"sessions": 2, "participations": 6, "leader_participations": 3}
    assert exp.left_out["sessions"] == 1


def test_export_unknown_period_or_association(env, club):
    with pytest.raises(NotFound):
        export_dak(env.tenant.id, env.assoc.id, "1999H1")
    with pytest.raises(NotFound):
        export_dak(env.tenant.id, 10**9, "2026H1")


def _content(tenant_id: int) -> list:
    """Every session of a tenant as comparable values (people by their keyed hash)."""
    with tenant_scope(tenant_id):
        out = []
        for s in db.session.execute(select(ActivitySession).order_by(ActivitySession.starts_at)).scalars():
            rows = db.session.execute(select(Person.pnr_hash, Attendance.role, Attendance.present,
                                             Attendance.disability).join(
                Person, (Person.tenant_id == Attendance.tenant_id) & (Person.id == Attendance.person_id)).where(
                Attendance.session_id == s.id)).all()
            # Where it happened: the session's facility, else its group's (DAK's Lokal falls back the same way).
            fid = s.facility_id or db.session.get(Group, (tenant_id, s.group_id)).main_facility_id
            fac = db.session.get(Facility, (tenant_id, fid)).name if fid else None
            out.append((s.starts_at, s.ends_at, s.session_type, s.team_sport, fac,
                        sorted(tuple(r) for r in rows if r[0] is not None)))
        return out


def test_round_trip_into_another_municipality(env, club):
    other = create_tenant(slug="kungsbacka", kommunkod="1384", name="Kungsbacka kommun")
    there = create_association(other, name="IK Test", orgnr=env.orgnr)
    db.session.commit()
    tid, aid, other_id, there_id, code = env.tenant.id, env.assoc.id, other.id, there.id, other.kommunkod

    # A file meant for 2480 is refused by 1384, and says so for every session, with the same counts.
    plain = export_dak_report(tid, aid, "2026H1")
    report = import_dak(plain.xml, tenant_id=other_id, partner_client_id=None, allowed_association_ids={there_id})
    assert report.file == plain.counts and report.accepted["sessions"] == 0
    assert {r.reason.split(" (")[0] for r in report.refused} == {"Kommun@kommunID 2480"}
    db.session.rollback()

    moved = export_dak_report(tid, aid, "2026H1", kommun_id=code)
    report = import_dak(moved.xml, tenant_id=other_id, partner_client_id=None, allowed_association_ids={there_id})
    db.session.commit()
    assert report.as_dict() == {"file": moved.counts, "accepted": moved.counts, "refused": [], "refused_total": 0}
    again = export_dak_report(other_id, there_id, "2026H1")
    assert again.counts == moved.counts and again.left_out["people"] == 0
    # Same sessions, same people (by keyed hash), same marks; the person without a number did not travel.
    mine = [s for s in _content(tid) if s[0] < dt.datetime(2026, 7, 1)]
    assert _content(other_id) == mine
