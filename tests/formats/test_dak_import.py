"""DAK import: versions, namespaces, methods, temporary leaders, partly bad files, line numbers."""

from __future__ import annotations

import datetime as dt

import pytest
from dakbuild import NS_21, NS_22, dak_file, line_of
from sqlalchemy import select

from apn.extensions import db
from apn.formats.dak import DakFileError, count_dak, import_dak
from apn.models import ActivitySession, Attendance, Facility, GrantPeriod, Group, PartnerPerson, Person
from apn.tenancy import tenant_scope

D = "2026-03-04"


def _import(env, xml, partner=True, allowed=None):
    report = import_dak(xml, tenant_id=env.tenant.id, partner_client_id=env.partner_id if partner else None,
                        allowed_association_ids=allowed)
    db.session.commit()
    return report


def _people(env, n=4):
    return {f"d{i}": (f"Barn{i}", "Testsson", env.pnr(i)) for i in range(1, n + 1)}


def _leaders(env):
    return {"L1": ("Lena", "Ledare", env.pnr(90, 1980)), "L2": ("Leo", "Ledare", env.pnr(91, 1985))}


def _stored(env, kod):
    """The stored session with this partner code and its attendance {(external id): (role, present, dis)}."""
    with tenant_scope(env.tenant.id):
        s = db.session.execute(select(ActivitySession).where(ActivitySession.partner_code == kod)).scalar_one_or_none()
        if s is None:
            return None, {}
        ext = dict(db.session.execute(select(PartnerPerson.person_id, PartnerPerson.external_id)).all())
        rows = db.session.execute(select(Attendance).where(Attendance.session_id == s.id)).scalars().all()
        return s, {ext[a.person_id]: (a.role, a.present, a.disability) for a in rows}


@pytest.mark.parametrize("ns,version", [(NS_22, "2.2"), (NS_21, "2.1"), (NS_21, None), (NS_21, "2.2")])
def test_import_counts_and_store(env, ns, version):
    sessions = [
        {"kod": "S-001", "date": D, "team": True,
         "participants": [{"id": "d1"}, {"id": "d2", "disability": True}, {"id": "d3", "present": False}],
         "leaders": [{"id": "L1"}, {"id": "L2", "present": False}]},
        {"kod": "S-002", "date": "2026-03-11", "typ": "Match", "lokal": "Arena B",
         "participants": [{"id": "d1"}, {"id": "d4"}], "leaders": [{"id": "L1"}]},
    ]
    xml = dak_file([{"orgnr": env.orgnr, "cards": [{"number": 17, "name": "P13", "sessions": sessions}]}],
                   _people(env), _leaders(env), ns=ns, version=version)
    report = _import(env, xml)
    counts = {"sessions": 2, "participations": 4, "leader_participations": 2}
    assert report.as_dict() == {"file": counts, "accepted": counts, "refused": [], "refused_total": 0}
    assert count_dak(xml) == counts
    s, marks = _stored(env, "S-001")
    assert s.channel == "dak" and s.partner_client_id == env.partner_id and s.team_sport is True
    assert (s.start_time, s.stop_time, s.duration_minutes) == (dt.time(18), dt.time(19, 30), 90)
    assert marks == {"d1": ("participant", True, False), "d2": ("participant", True, True),
                     "d3": ("participant", False, False), "L1": ("leader", True, False),
                     "L2": ("leader", False, False)}
    with tenant_scope(env.tenant.id):
        g = db.session.execute(select(Group)).scalar_one()
        assert (g.partner_client_id, g.partner_card_number, g.name, g.main_activity) == (env.partner_id, "17", "P13",
                                                                                         "Fotboll")
        assert s.group_id == g.id
        names = set(db.session.execute(select(Facility.name)).scalars())
        assert names == {"Hall A", "Arena B"}
        s2, _ = _stored(env, "S-002")
        assert s2.session_type == "Match"
        assert db.session.get(Facility, (env.tenant.id, s2.facility_id)).name == "Arena B"
        # People are created once each, and identified by their personal number.
        assert db.session.execute(select(db.func.count()).select_from(Person)).scalar() == 6


def test_stoppdatum_across_midnight(env):
    xml = dak_file([{"orgnr": env.orgnr, "cards": [{"number": 1, "sessions": [
        {"kod": "night-1", "date": D, "start": "23:30:00", "stop": "00:30:00", "stop_date": "2026-03-05",
         "participants": [{"id": "d1"}], "leaders": [{"id": "L1"}]},
        {"kod": "night-2", "date": D, "start": "23:30:00", "stop": "00:30:00",
         "participants": [{"id": "d1"}], "leaders": [{"id": "L1"}]},
    ]}]}], _people(env, 1), _leaders(env))
    report = _import(env, xml)
    assert report.accepted == {"sessions": 1, "participations": 1, "leader_participations": 1}
    [refused] = report.refused
    assert refused.kod == "night-2" and refused.line == line_of(xml, 'kod="night-2"')
    assert "StoppTid" in refused.reason and "stop date" in refused.reason
    s, _ = _stored(env, "night-1")
    assert s.stop_date == dt.date(2026, 3, 5)
    assert (s.starts_at, s.ends_at) == (dt.datetime(2026, 3, 4, 23, 30), dt.datetime(2026, 3, 5, 0, 30))
    assert s.duration_minutes == 60


def test_stoppdatum_is_a_schema_error_in_a_strict_21_file(env):
    xml = dak_file([{"orgnr": env.orgnr, "cards": [{"number": 1, "sessions": [
        {"kod": "ok-1", "participants": [{"id": "d1"}]},
        {"kod": "late-1", "start": "23:00:00", "stop": "00:30:00", "stop_date": "2026-03-05",
         "participants": [{"id": "d1"}]},
    ]}]}], _people(env, 1), {}, ns=NS_21, version="2.1")
    report = _import(env, xml)
    assert report.accepted["sessions"] == 1
    [r] = report.refused
    assert r.kod == "late-1" and r.line == line_of(xml, 'kod="late-1"')
    assert f"line {line_of(xml, '<StoppDatum>')}:" in r.reason and "StoppDatum" in r.reason


def test_add_again_replaces_whole(env):
    people, leaders = _people(env), _leaders(env)
    first = dak_file([{"orgnr": env.orgnr, "cards": [{"number": 5, "sessions": [
        {"kod": "K-100", "participants": [{"id": "d1"}, {"id": "d2"}, {"id": "d3"}], "leaders": [{"id": "L1"}]}]}]}],
        people, leaders)
    _import(env, first)
    again = dak_file([{"orgnr": env.orgnr, "cards": [{"number": 5, "sessions": [
        {"kod": "K-100", "start": "17:00:00", "stop": "18:00:00", "typ": "Match",
         "participants": [{"id": "d4"}, {"id": "d2", "present": False}], "leaders": [{"id": "L2"}]}]}]}],
        people, leaders)
    report = _import(env, again)
    assert report.actions == {"replaced": 1}
    assert report.accepted == {"sessions": 1, "participations": 1, "leader_participations": 1}
    s, marks = _stored(env, "K-100")
    assert (s.start_time, s.session_type, s.duration_minutes) == (dt.time(17), "Match", 60)
    assert marks == {"d4": ("participant", True, False), "d2": ("participant", False, False),
                     "L2": ("leader", True, False)}
    with tenant_scope(env.tenant.id):
        assert db.session.execute(select(db.func.count()).select_from(ActivitySession)).scalar() == 1


def test_update_patches_marks_only(env):
    people, leaders = _people(env), _leaders(env)
    _import(env, dak_file([{"orgnr": env.orgnr, "cards": [{"number": 5, "sessions": [
        {"kod": "U-1", "participants": [{"id": "d1"}, {"id": "d2"}], "leaders": [{"id": "L1"}]}]}]}],
        people, leaders))
    update = dak_file([{"orgnr": env.orgnr, "cards": [{"number": 5, "sessions": [
        {"kod": "U-1", "method": "Update", "start": "10:00:00", "stop": "11:00:00",
         "participants": [{"id": "d2", "present": False}, {"id": "d3", "disability": True}]}]}]}], people, leaders)
    report = _import(env, update)
    assert report.actions == {"updated": 1}
    # The counts are those of what the file holds: one present participant.
    assert report.as_dict()["accepted"] == {"sessions": 1, "participations": 1, "leader_participations": 0}
    s, marks = _stored(env, "U-1")
    assert s.start_time == dt.time(18)  # Update touches the marks only
    assert marks == {"d1": ("participant", True, False), "d2": ("participant", False, False),
                     "d3": ("participant", True, True), "L1": ("leader", True, False)}


def test_remove_and_remove_unknown(env):
    people = _people(env, 2)
    _import(env, dak_file([{"orgnr": env.orgnr, "cards": [{"number": 5, "sessions": [
        {"kod": "R-1", "participants": [{"id": "d1"}]}, {"kod": "R-2", "participants": [{"id": "d2"}]}]}]}], people))
    xml = dak_file([{"orgnr": env.orgnr, "cards": [{"number": 5, "sessions": [
        {"kod": "R-1", "method": "Remove"}, {"kod": "R-404", "method": "Remove"}]}]}], people)
    report = _import(env, xml)
    assert report.actions == {"removed": 1}
    assert [(r.kod, r.line) for r in report.refused] == [("R-404", line_of(xml, 'kod="R-404"'))]
    assert "no such session to remove" in report.refused[0].reason
    assert _stored(env, "R-1")[0] is None and _stored(env, "R-2")[0] is not None


@pytest.mark.parametrize("how", ["element", "attribute"])
def test_temporary_leader_both_ways(env, how):
    xml = dak_file([{"orgnr": env.orgnr, "cards": [{"number": 5, "sessions": [
        {"kod": "T-1", "participants": [{"id": "d1", "temp": how}, {"id": "d2"}, {"id": "d3", "temp": how,
                                                                                   "present": False}]}]}]}],
        _people(env))
    report = _import(env, xml)
    counts = {"sessions": 1, "participations": 1, "leader_participations": 1}
    assert report.as_dict() == {"file": counts, "accepted": counts, "refused": [], "refused_total": 0}
    _, marks = _stored(env, "T-1")
    assert marks["d1"] == ("temporary_leader", True, False)
    assert marks["d2"] == ("participant", True, False)
    assert marks["d3"] == ("temporary_leader", False, False)


def test_partly_bad_file_keeps_the_good_part(env, ctx):
    from apn.testing.factories import create_association, make_orgnr

    people = _people(env, 3)
    people["bad"] = ("Fel", "Nummer", env.pnr(7)[:-1] + str((int(env.pnr(7)[-1]) + 1) % 10))
    good = [{"kod": "G-1", "participants": [{"id": "d1"}, {"id": "d2"}], "leaders": [{"id": "L1"}]},
            {"kod": "BADPNR", "participants": [{"id": "d1"}, {"id": "bad"}]},
            {"kod": "NOREG", "participants": [{"id": "ghost"}]},
            {"kod": "BACKWARDS", "start": "19:00:00", "stop": "18:00:00", "participants": [{"id": "d3"}]},
            {"kod": "SCHEMA", "typ": "Fika", "participants": [{"id": "d3"}]},
            {"kod": "G-2", "participants": [{"id": "d3"}]},
            {"kod": "G-2", "participants": [{"id": "d1"}]}]
    outsider = create_association(env.tenant, name="Utanför", orgnr=make_orgnr(777))
    db.session.commit()
    xml = dak_file([
        {"orgnr": env.orgnr, "cards": [{"number": 5, "sessions": good}]},
        {"orgnr": make_orgnr(9999), "id": "NOPE", "cards": [{"number": 6, "sessions": [{"kod": "UNKNOWN-ASSOC"}]}]},
        {"orgnr": outsider.organisationsnummer, "id": "OUT", "cards": [{"number": 7, "sessions": [
            {"kod": "NOT-AUTH"}]}]},
        {"id": "NOORG", "cards": [{"number": 8, "sessions": [{"kod": "NO-ORGNR"}]}]},
    ], people, _leaders(env))
    report = _import(env, xml)
    assert report.file == {"sessions": 10, "participations": 9, "leader_participations": 1}
    assert report.accepted == {"sessions": 2, "participations": 3, "leader_participations": 1}
    refused = {(r.kod, r.line): r.reason for r in report.refused}
    expected = {("BADPNR", line_of(xml, 'kod="BADPNR"')): "check digit is wrong",
                ("NOREG", line_of(xml, 'kod="NOREG"')): "not in the DeltagarRegister",
                ("BACKWARDS", line_of(xml, 'kod="BACKWARDS"')): "the stop time must be after the start time",
                ("SCHEMA", line_of(xml, 'kod="SCHEMA"')): f"line {line_of(xml, '<Typ>Fika')}:",
                ("G-2", line_of(xml, 'kod="G-2"', 1)): "appears earlier in the file",
                ("UNKNOWN-ASSOC", line_of(xml, 'kod="UNKNOWN-ASSOC"')): "no association with organisationsnummer",
                ("NOT-AUTH", line_of(xml, 'kod="NOT-AUTH"')): "has not authorised this partner",
                ("NO-ORGNR", line_of(xml, 'kod="NO-ORGNR"')): "has no organisationsnummer"}
    assert set(refused) == set(expected)
    for key, fragment in expected.items():
        assert fragment in refused[key], (key, refused[key])
    assert [r.line for r in report.refused] == sorted(r.line for r in report.refused)
    # The bad personal number is never echoed back.
    assert people["bad"][2] not in str(report.as_dict())
    assert _stored(env, "G-1")[0] is not None and _stored(env, "G-2")[0] is not None
    assert _stored(env, "BADPNR")[0] is None


def test_wrong_kommun_id_refuses_every_session(env):
    xml = dak_file([{"orgnr": env.orgnr, "cards": [{"number": 5, "sessions": [
        {"kod": "W-1", "participants": [{"id": "d1"}]}, {"kod": "W-2", "participants": [{"id": "d1"}]}]}]}],
        _people(env, 1), kommun="1480")
    report = _import(env, xml)
    assert report.accepted == {"sessions": 0, "participations": 0, "leader_participations": 0}
    assert [r.kod for r in report.refused] == ["W-1", "W-2"]
    assert all("kommunID 1480" in r.reason and "2480" in r.reason for r in report.refused)
    assert _stored(env, "W-1")[0] is None


def test_closed_period_is_refused_with_line(env):
    with tenant_scope(env.tenant.id):
        db.session.execute(GrantPeriod.__table__.update().where(
            GrantPeriod.tenant_id == env.tenant.id, GrantPeriod.code == "2026H1").values(status="closed"))
        db.session.commit()
    xml = dak_file([{"orgnr": env.orgnr, "cards": [{"number": 5, "sessions": [
        {"kod": "C-1", "participants": [{"id": "d1"}]}, {"kod": "C-2", "date": "2026-08-01",
                                                           "participants": [{"id": "d1"}]}]}]}], _people(env, 1))
    report = _import(env, xml)
    assert [(r.kod, r.line) for r in report.refused] == [("C-1", line_of(xml, 'kod="C-1"'))]
    assert report.refused[0].reason == "Datum: the grant period 2026H1 is closed"


def test_web_upload_without_partner_is_limited_to_own_association(env):
    xml = dak_file([{"orgnr": env.orgnr, "cards": [{"number": 5, "sessions": [{"kod": "A-1"}]}]},
                    {"orgnr": env.other_assoc.organisationsnummer, "cards": [{"number": 5, "sessions": [
                        {"kod": "B-1"}]}]}], {})
    report = _import(env, xml, partner=False, allowed={env.assoc.id})
    assert report.accepted["sessions"] == 1
    [r] = report.refused
    assert r.kod == "B-1" and "your own association" in r.reason
    s, _ = _stored(env, "A-1")
    assert s.partner_client_id is None
    with tenant_scope(env.tenant.id):
        g = db.session.get(Group, (env.tenant.id, s.group_id))
        assert (g.partner_client_id, g.partner_card_number, g.association_id) == (None, "5", env.assoc.id)
    # The same card number is matched again on the next upload.
    _import(env, dak_file([{"orgnr": env.orgnr, "cards": [{"number": 5, "sessions": [{"kod": "A-2"}]}]}], {}),
            partner=False, allowed={env.assoc.id})
    assert _stored(env, "A-2")[0].group_id == s.group_id


def test_card_of_another_association_is_refused(env):
    _import(env, dak_file([{"orgnr": env.orgnr, "cards": [{"number": 5, "sessions": [{"kod": "X-1"}]}]}], {}))
    xml = dak_file([{"orgnr": env.other_assoc.organisationsnummer, "cards": [{"number": 5, "sessions": [
        {"kod": "X-2"}]}]}], {})
    report = _import(env, xml, allowed={env.assoc.id, env.other_assoc.id})
    [r] = report.refused
    assert r.kod == "X-2" and "Naervarokort 5" in r.reason and "another association" in r.reason


def test_file_level_schema_error_names_the_line(env):
    xml = dak_file([{"orgnr": env.orgnr, "cards": [{"number": 5, "sessions": [{"kod": "Z-1"}]}]}], {})
    broken = xml.replace(b'<Kommun kommunID="2480"', b'<Kommun kommunID="Umea"')
    with pytest.raises(DakFileError) as exc:
        _import(env, broken)
    assert exc.value.status == 422
    assert f"line {line_of(broken, '<Kommun')}:" in exc.value.message and "kommunID" in exc.value.message
    assert _stored(env, "Z-1")[0] is None


def test_not_well_formed_names_the_line(env):
    xml = dak_file([{"orgnr": env.orgnr, "cards": [{"number": 5, "sessions": [{"kod": "Z-1"}]}]}], {})
    broken = xml.replace(b"</Typ>", b"</Typo>")
    with pytest.raises(DakFileError) as exc:
        _import(env, broken)
    assert exc.value.status == 422 and f"line {line_of(broken, '</Typo>')}:" in exc.value.message


def test_not_a_dak_file(env):
    with pytest.raises(DakFileError) as exc:
        _import(env, b"<Aktivitetskort><Kommun kommunID='2480'/></Aktivitetskort>")
    assert "namespace" in exc.value.message and exc.value.errors() == {"file": {"xml": [exc.value.message]}}
