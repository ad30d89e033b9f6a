"""Policy, exclusions for the rule engine, and officers resolving flags with a reason (audited)."""

from __future__ import annotations

import datetime as dt

import pytest
from clashkit import DAY, command, make_world, report
from sqlalchemy import select

from apn.clash import (
    DEFAULT_POLICY,
    excluded_participations,
    flags_for_officer,
    get_policy,
    resolve,
    set_policy,
)
from apn.errors import DomainError, NotFound
from apn.extensions import db
from apn.intake import PersonRef
from apn.models import AuditEntry, ClashFlag
from apn.tenancy import tenant_scope
from apn.testing import factories as f


def _excluded(tenant, lo=DAY, hi=DAY):
    with tenant_scope(tenant.id):
        return excluded_participations(db.session.connection(), tenant.id, lo, hi)


def _overlap(world):
    p, q, r = world.people[:3]
    first = report(world.tenant, command(world.ga, participants=[p, q]))
    later = report(world.tenant, command(world.gb, participants=[p, r]))
    with tenant_scope(world.tenant.id):
        flag = db.session.execute(select(ClashFlag)).scalar_one()
    return p, first.accepted[0].session_id, later.accepted[0].session_id, flag


def test_default_policy_keeps_the_first_reported(world):
    assert get_policy(world.tenant.id) == DEFAULT_POLICY
    p, first, later, _flag = _overlap(world)
    [(sid, pid, code, sv, en)] = _excluded(world.tenant)
    assert (sid, pid, code) == (later, p.id, "clash_person_overlap")
    assert "reported first counts" in en and "rapporterades först" in sv


def test_officer_decides_excludes_both_until_resolved(world):
    set_policy(world.tenant.id, {"keep": "officer_decides"})
    p, first, later, flag = _overlap(world)
    assert [(r[0], r[1]) for r in _excluded(world.tenant)] == sorted([(first, p.id), (later, p.id)])
    assert "grant officer has decided" in _excluded(world.tenant)[0][4]
    with tenant_scope(world.tenant.id):
        resolve(flag.id, "this" if flag.session_id == later else "other", "Was at the scout evening", user_id=7)
    assert [(r[0], r[1]) for r in _excluded(world.tenant)] == [(first, p.id)]
    assert "decided that it does not count here" in _excluded(world.tenant)[0][4]


def test_non_blocking_kinds_exclude_nothing(world):
    set_policy(world.tenant.id, {"blocking_kinds": ["double_report"]})
    _overlap(world)
    assert _excluded(world.tenant) == []


def test_a_double_report_excludes_every_participation_of_the_later_session(world):
    people = world.people[:6]
    report(world.tenant, command(world.ga, participants=people, channel="app"))
    later = report(world.tenant, command(world.ga, participants=people, channel="dak", code="d-1"))
    rows = _excluded(world.tenant)
    assert sorted((r[0], r[1]) for r in rows) == [(later.accepted[0].session_id, p.id) for p in people]
    assert {r[2] for r in rows} == {"clash_double_report"}


def test_exclusions_only_for_sessions_in_the_asked_range(world):
    _overlap(world)
    assert _excluded(world.tenant, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=30)) == []


def test_other_municipality_first_reported_counts_there(ctx):
    umea, kba = make_world(slug="umea", kommunkod="2480"), make_world(slug="kba", kommunkod="1384")
    db.session.commit()
    pnr = f.make_pnr(dt.date(2010, 6, 6), 3)
    report(umea.tenant, command(umea.ga, refs=[PersonRef(personnummer=pnr)]))
    later = report(kba.tenant, command(kba.gb, refs=[PersonRef(personnummer=pnr)]))
    assert _excluded(umea.tenant) == []
    [(sid, _pid, code, _sv, en)] = _excluded(kba.tenant)
    assert sid == later.accepted[0].session_id and code == "clash_other_municipality"
    assert "another municipality" in en


def test_resolving_records_the_decision_in_the_audit_log(world):
    _p, _first, _later, flag = _overlap(world)
    with tenant_scope(world.tenant.id):
        resolve(flag.id, "both", "  Two different sessions, times were wrong  ", user_id=42)
        db.session.commit()
        stored = db.session.get(ClashFlag, (world.tenant.id, flag.id))
        assert (stored.status, stored.resolution, stored.reason, stored.resolved_by_user_id) == \
            ("resolved", "both", "Two different sessions, times were wrong", 42)
        entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "clash.resolve")).scalar_one()
        assert (entry.entity, entry.entity_id, entry.actor_user_id) == ("clash_flag", str(flag.id), 42)
        assert entry.before["status"] == "open" and entry.after["resolution"] == "both"
    assert _excluded(world.tenant) == []


def test_a_resolution_survives_a_recheck_of_a_still_existing_clash(world):
    p, _first, _later, flag = _overlap(world)
    with tenant_scope(world.tenant.id):
        resolve(flag.id, "both", "ok", user_id=1)
    db.session.commit()
    # Reporting another session touching the same person re-checks; the resolved flag stays resolved.
    report(world.tenant, command(world.ga2, start="08:00", stop="09:00", participants=[p]))
    with tenant_scope(world.tenant.id):
        again = db.session.get(ClashFlag, (world.tenant.id, flag.id))
        assert again.status == "resolved"


@pytest.mark.parametrize("resolution, reason, field", [("mine", "x", "resolution"), ("this", "  ", "reason")])
def test_bad_resolutions_are_refused(world, resolution, reason, field):
    _p, _first, _later, flag = _overlap(world)
    with tenant_scope(world.tenant.id), pytest.raises(DomainError) as err:
        resolve(flag.id, resolution, reason, user_id=1)
    assert err.value.field == field


def test_another_municipalitys_flag_is_not_found(world):
    _p, _first, _later, flag = _overlap(world)
    other = make_world()
    with tenant_scope(other.tenant.id), pytest.raises(NotFound):
        resolve(flag.id, "this", "x", user_id=1)


def test_listed_twice_may_only_count_or_not(world):
    p = world.people[0]
    report(world.tenant, command(world.ga, participants=[p, p]))
    with tenant_scope(world.tenant.id):
        flag = db.session.execute(select(ClashFlag)).scalar_one()
        with pytest.raises(DomainError):
            resolve(flag.id, "other", "x", user_id=1)
        resolve(flag.id, "neither", "not there", user_id=1)
    assert [(r[1], r[2]) for r in _excluded(world.tenant)] == [(p.id, "clash_listed_twice")]


@pytest.mark.parametrize("policy, field", [({"keep": "last"}, "keep"), ({"blocking_kinds": ["x"]}, "blocking_kinds")])
def test_invalid_policies_are_refused(world, policy, field):
    with pytest.raises(DomainError) as err:
        set_policy(world.tenant.id, policy)
    assert err.value.field == field


def test_setting_a_policy_is_audited(world):
    set_policy(world.tenant.id, {"blocking_kinds": ["person_overlap"]}, user_id=5)
    db.session.commit()
    assert get_policy(world.tenant.id) == {"blocking_kinds": ["person_overlap"], "keep": "first_reported"}
    with tenant_scope(world.tenant.id):
        entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "clash.policy")).scalar_one()
    assert entry.after["blocking_kinds"] == ["person_overlap"]


def test_officers_see_both_sides(world):
    p, first, later, flag = _overlap(world)
    [view] = flags_for_officer(world.tenant.id)
    sides = {view["this"]["session_id"]: view["this"], view["other"]["session_id"]: view["other"]}
    assert sides[first]["association_name"] == "IFK Norr" and sides[first]["group_name"] == "P13"
    assert sides[later]["association_name"] == "Scoutkåren Syd"
    assert view["person"]["id"] == p.id and view["person"]["masked_identity"].endswith("-****")
    assert flags_for_officer(world.tenant.id, association_id=world.b.id)[0]["id"] == flag.id
    assert flags_for_officer(world.tenant.id, kind="double_report") == []
    assert flags_for_officer(world.tenant.id, status="resolved") == []


def test_the_rule_engine_asks_the_clash_policy(app):
    from apn.rules.registry import exclusion_sources

    assert excluded_participations in exclusion_sources()
