"""The demo data set: deterministic planning, realistic content, written through the intake, ``--if-empty``."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import and_, func, select

from apn.auth import verify_password
from apn.demo import DEMO_PASSWORD, LOGINS, plan_demo, session_stream
from apn.extensions import db
from apn.identity import decrypt_pnr, luhn_ok, normalise_orgnr, parse_personnummer
from apn.models import (
    ActivitySession,
    Association,
    Attendance,
    GrantPeriod,
    Group,
    GroupMember,
    HomeArea,
    Person,
    RoleGrant,
    Tenant,
    User,
)
from apn.tenancy import system_scope

SCALE = 0.02
YEAR = 2025


def _fingerprint(plan) -> list:
    """Everything planned, as plain tuples (people, groups, every session with its marks)."""
    out = []
    for tp in plan.tenants:
        out.append([(p.first_name, p.last_name, p.birth_date, p.sex, p.pnr, p.area) for p in tp.people])
        out.append([(a.name, a.orgnr, a.payout_method, a.payout_account, a.partner) for a in tp.associations])
        out.append([(g.name, g.association, g.slots, g.members, g.leaders) for g in tp.groups])
        out.append([(s.group, s.date, s.start, s.minutes, s.channel, s.partner_code, tuple(s.marks))
                    for s in session_stream(plan, tp)])
    return out


def test_plan_is_deterministic_and_depends_on_the_seed():
    a = _fingerprint(plan_demo(SCALE, seed=7, year=YEAR))
    b = _fingerprint(plan_demo(SCALE, seed=7, year=YEAR))
    c = _fingerprint(plan_demo(SCALE, seed=8, year=YEAR))
    assert a == b
    assert a[0] != c[0]  # other people with another seed


def test_planned_people_and_associations_are_valid_and_plausible():
    plan = plan_demo(0.3, seed=11, year=YEAR)
    for tp in plan.tenants:
        numbers = [p.pnr for p in tp.people if p.pnr]
        assert len(numbers) == len(set(numbers))
        assert 0 < len(tp.people) - len(numbers) < len(tp.people) * 0.05  # a few without a number
        for p in tp.people:
            assert 5 <= YEAR - p.birth_date.year <= 70
            if p.pnr:
                parsed = parse_personnummer(p.pnr)
                assert (parsed.birth_date, parsed.sex, parsed.coordination) == (p.birth_date, p.sex, p.coordination)
        no_number = [(p.last_name, p.first_name, p.birth_date) for p in tp.people if not p.pnr]
        assert len(no_number) == len(set(no_number))  # name + birth date identifies them
        assert len({a.orgnr for a in tp.associations}) == len(tp.associations)
        for a in tp.associations:
            assert normalise_orgnr(a.orgnr) == a.orgnr
            if a.payout_method in ("bankgiro", "plusgiro"):
                assert luhn_ok(a.payout_account)
        assert any(a.disability for a in tp.associations)
        assert {a.partner for a in tp.associations} >= {None, "api", "dak"}
        codes = [a.code for a in tp.areas]
        assert all(c.startswith(tp.spec.kommunkod + "R") for c in codes) and len(set(codes)) == len(codes)


def test_scale_one_has_the_documented_size():
    plan = plan_demo(1.0, seed=2480, year=YEAR)
    assert sum(len(tp.associations) for tp in plan.tenants) == 40
    assert sum(len(tp.groups) for tp in plan.tenants) == 100
    assert sum(len(tp.people) for tp in plan.tenants) == 3000
    sessions = participations = 0
    for tp in plan.tenants:
        for s in session_stream(plan, tp):
            sessions += 1
            participations += sum(1 for _, role, present, _ in s.marks if present and role == "participant")
    assert 17_000 <= sessions <= 23_000
    assert 220_000 <= participations <= 280_000


def _counts() -> dict[str, int]:
    with system_scope():
        out = {m.__tablename__: db.session.scalar(select(func.count()).select_from(m))
               for m in (Tenant, Association, Group, GroupMember, Person, ActivitySession, Attendance, RoleGrant,
                         HomeArea)}
        db.session.rollback()
    return out


def test_demo_command_loads_through_the_intake_and_keeps_data_with_if_empty(ctx, runner):
    result = runner.invoke(args=["demo", "--scale", str(SCALE), "--year", str(YEAR)])
    assert result.exit_code == 0, result.output
    for login in LOGINS:
        assert any(login.email in line and login.role in line for line in result.output.splitlines())
    assert DEMO_PASSWORD in result.output
    first = _counts()

    plan = plan_demo(SCALE, year=YEAR)
    planned_sessions = [s for tp in plan.tenants for s in session_stream(plan, tp)]
    with system_scope():
        tenants = {t.slug: t for t in db.session.execute(select(Tenant)).scalars()}
        assert (tenants["umea"].kommunkod, tenants["umea"].ruleset_preset) == ("2480", "lok-2023")
        assert (tenants["kungsbacka"].kommunkod, tenants["kungsbacka"].ruleset_preset) == ("1384", "kungsbacka-2023")
        periods = set(db.session.execute(select(GrantPeriod.code)).scalars())
        assert {f"{YEAR}H1", f"{YEAR}H2"} <= periods

        # The database holds exactly the plan: same people (names, birth dates, numbers), same sessions.
        people = db.session.execute(select(Person.first_name, Person.last_name, Person.birth_date, Person.sex,
                                           Person.pnr_encrypted)).all()
        stored = sorted((f, ln, b, s, decrypt_pnr(e) if e else None) for f, ln, b, s, e in people)
        planned = sorted((p.first_name, p.last_name, p.birth_date, p.sex, p.pnr) for tp in plan.tenants
                         for p in tp.people)
        assert stored == planned
        for *_, number in stored:
            if number:
                parse_personnummer(number)
        assert sum(1 for *_, number in stored if number is None) >= 2
        assert first["activity_session"] == len(planned_sessions)
        assert first["attendance"] == sum(len(s.marks) for s in planned_sessions)

        sessions = db.session.execute(select(ActivitySession)).scalars().all()
        assert {s.channel for s in sessions} == {"web", "app", "api", "dak"}
        crossing = [s for s in sessions if s.stop_date is not None]
        assert crossing and all(s.ends_at.date() == s.session_date + dt.timedelta(days=1) for s in crossing)
        assert any(s.duration_minutes < 45 for s in sessions)

        # Clashes: the same person present in two overlapping sessions, also across associations.
        a1, a2 = Attendance.__table__.alias("a1"), Attendance.__table__.alias("a2")
        s1, s2 = ActivitySession.__table__.alias("s1"), ActivitySession.__table__.alias("s2")
        pairs = db.session.execute(
            select(s1.c.association_id, s2.c.association_id, s1.c.channel, s2.c.channel, s1.c.group_id,
                   s2.c.group_id)
            .select_from(a1.join(a2, and_(a1.c.tenant_id == a2.c.tenant_id, a1.c.person_id == a2.c.person_id,
                                          a1.c.session_id < a2.c.session_id))
                         .join(s1, and_(s1.c.tenant_id == a1.c.tenant_id, s1.c.id == a1.c.session_id))
                         .join(s2, and_(s2.c.tenant_id == a2.c.tenant_id, s2.c.id == a2.c.session_id)))
            .where(a1.c.present, a2.c.present, s1.c.starts_at < s2.c.ends_at, s2.c.starts_at < s1.c.ends_at)
        ).all()
        assert any(x[0] != x[1] for x in pairs)  # across associations
        assert any(x[4] == x[5] and x[2] != x[3] for x in pairs)  # one session reported through two channels

        # Rule-breaking sessions: no leader present, fewer than three participants, participants under 7.
        present = db.session.execute(
            select(Attendance.session_id, Attendance.role, Person.birth_date)
            .join(Person, and_(Person.tenant_id == Attendance.tenant_id, Person.id == Attendance.person_id))
            .where(Attendance.present)).all()
        by_session: dict[int, list] = {}
        for sid, role, birth in present:
            by_session.setdefault(sid, []).append((role, birth))
        assert any(all(r == "participant" for r, _ in marks) for marks in by_session.values())
        assert any(sum(r == "participant" for r, _ in marks) < 3 for marks in by_session.values())
        assert any(YEAR - b.year < 7 for marks in by_session.values() for r, b in marks if r == "participant")

        grants = db.session.execute(select(User.email, RoleGrant.role, RoleGrant.association_id,
                                           RoleGrant.group_id).join(RoleGrant, RoleGrant.user_id == User.id)).all()
        assert {(e, r) for e, r, *_ in grants} == {(lg.email, lg.role) for lg in LOGINS}
        reporter = next(g for g in grants if g[1] == "reporter")
        assert reporter[2] is not None and reporter[3] is not None
        for user in db.session.execute(select(User)).scalars():
            assert verify_password(user.password_hash, DEMO_PASSWORD)
        db.session.rollback()

    again = runner.invoke(args=["demo", "--if-empty", "--scale", str(SCALE), "--year", str(YEAR)])
    assert again.exit_code == 0, again.output
    assert "nothing loaded" in again.output
    for login in LOGINS:
        assert login.email in again.output
    assert _counts() == first

    refused = runner.invoke(args=["demo", "--scale", str(SCALE), "--year", str(YEAR)])
    assert refused.exit_code != 0
    assert "exist already" in refused.output
    assert _counts() == first


def test_scale_must_be_positive(runner):
    result = runner.invoke(args=["demo", "--scale", "0"])
    assert result.exit_code == 2
    assert "--scale" in result.output
    with pytest.raises(ValueError):
        plan_demo(-1)
