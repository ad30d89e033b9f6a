"""Golden tests of the other presets, versioning, exclusions, plugins and the expected grant.

Amounts are computed by hand in the tables; ages are 2025 − birth year unless a test says otherwise.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from apn.errors import DomainError
from apn.extensions import db
from apn.models import Application, GrantPeriod, RuleSet
from apn.rules import expected_grant, install_ruleset, load_preset, register_exclusion
from apn.tenancy import tenant_scope
from apn.testing import factories as f

D = dt.date


def _lines(res):
    return [(ln.clause, ln.units, ln.amount_ore) for ln in res.lines]


def test_lok_2023_tiers_leader_supplement_weekly_cap_and_late_reduction(world):
    w = world("lok-2023")
    kids12 = [w.person(12) for _ in range(3)]
    k8 = w.person(8)
    l1, l2 = w.person(30), w.person(35)
    # Week of Mon 3 Mar 2025; all four kids at every session, one leader (two on Wednesday).
    # | unit                              | units | rate  | amount  |
    # | session (leader grant)            | 4     | 21.00 | 84.00   |
    # | extra leader (Wednesday)          | 1     | 5.00  | 5.00    |
    # | participations, week ranks 1–2    | 4 kids × 2 = 8   | 7.86 | 62.88 |
    # | participations, rank 3+           | 12-y × 2 × 3 + k8 × 1 (cap 3/week at 7–9) = 7 | 3.93 | 27.51 |
    # | subtotal                                               | 179.39 |
    # | submitted 10 Sep (deadline 25 Aug): 16 days late → −25 % = −44.8475 → floor −44.84 | −44.84 |
    # | total                                                  | 134.55 |
    for day in (3, 4, 5, 6):
        w.session(D(2025, 3, day), participants=[*kids12, k8], leaders=[l1, l2] if day == 5 else [l1])
    with tenant_scope(w.tenant.id):
        period = db.session.execute(select(GrantPeriod).where(GrantPeriod.code == "2025H1")).scalar_one()
        db.session.add(Application(tenant_id=w.tenant.id, association_id=w.assoc.id, period_id=period.id,
                                   status="submitted",
                                   submitted_at=dt.datetime(2025, 9, 10, 10, 0, tzinfo=dt.UTC)))
        db.session.flush()
    res = w.evaluate().associations[w.assoc.id]
    assert _lines(res) == [("leader-grant", 4, 8400), ("second-leader", 1, 500),
                           ("participation-first-two", 8, 6288), ("participation-more", 7, 2751),
                           ("late", 25, -4484)]
    assert res.total_ore == 13455


def test_goteborg_girls_rate_school_hours_and_qualification(world):
    w = world("goteborg")
    girls = [w.person(10, female=True) for _ in range(8)]
    boys = [w.person(10) for _ in range(7)]
    lead = w.person(40)
    # 20 evening sessions (Mon–Fri 18:00, and one Saturday at 10:00, allowed) with all 15 children.
    # | per session: 8 girls × 9.89 = 79.12, 7 boys × 8.02 = 56.14 → 135.26; × 20 = 2705.20 SEK |
    # | Mon 13 Jan 10:00–11:00: school hours (weekdays 08–15) → rejected, 0                        |
    # | a second association with 1 session: needs 20 sessions and 15 participants → 0             |
    days = [D(2025, 1, 6) + dt.timedelta(days=i) for i in range(40) if (D(2025, 1, 6) + dt.timedelta(days=i)).weekday() < 5]
    for d in days[:19]:
        w.session(d, participants=girls + boys, leaders=[lead])
    w.session(D(2025, 2, 8), "10:00", "11:00", girls + boys, [lead])
    school = w.session(D(2025, 1, 13), "10:00", "11:00", girls + boys, [lead])
    other, og = w.association()
    w.session(D(2025, 1, 7), participants=girls[:3], leaders=[lead], group=og)
    ev = w.evaluate()
    res = ev.associations[w.assoc.id]
    assert _lines(res) == [("participation-girls", 160, 158240), ("participation", 140, 112280)]
    assert res.total_ore == 270520
    verdict = [s for s in ev.sessions() if s.session_id == school][0]
    assert [r.code for r in verdict.reasons] == ["time_window"] and "skoltid" in verdict.reasons[0].sv
    small = ev.associations[other.id]
    assert not small.qualified and small.total_ore == 0 and small.sessions_rejected == 1
    assert small.notes[0].code == "association_not_qualified"


def test_stockholm_base_amount_year_cap_across_periods_and_exact_leader_age(world):
    w = world("stockholm")
    young = [w.person(10) for _ in range(10)]
    teens = [w.person(15) for _ in range(10)]
    lead = w.person(45)
    # H1: 35 sessions, every 5th day from 2 Jan to 21 Jun; H2: 15 weekly. Year caps: 40 counted per person at 7–12, 120 at 13–20.
    # | period | 10-year-olds counted        | teens counted  | amount                                   |
    # | H1     | 10 × 35 = 350 × 3.00        | 350 × 12.00    | 1050 + 4200 + base 5000 = 10250.00 SEK   |
    # | H2     | 10 × 5 (40 − 35) × 3.00     | 150 × 12.00    | 150 + 1800 + base 5000 = 6950.00 SEK     |
    for i in range(35):
        w.session(D(2025, 1, 2) + dt.timedelta(days=5 * i), participants=young + teens, leaders=[lead])
    for i in range(15):
        w.session(D(2025, 7, 3) + dt.timedelta(days=7 * i), participants=young + teens, leaders=[lead])
    h1 = w.evaluate("2025H1").associations[w.assoc.id]
    assert _lines(h1) == [("participation-7-12", 350, 105000), ("participation-13-20", 350, 420000),
                          ("base", 1, 500000)]
    h2 = w.evaluate("2025H2").associations[w.assoc.id]
    assert _lines(h2) == [("participation-7-12", 50, 15000), ("participation-13-20", 150, 180000),
                          ("base", 1, 500000)]
    assert h2.total_ore == 695000
    # Leaders must be older than 15 (exact age): born 10 Mar 2009 → 15 on 9 Mar 2025, 16 on 10 Mar.
    b, bg = w.association()
    leader16 = w.person(16, birth=D(2009, 3, 10))
    s_before = w.session(D(2025, 3, 9), participants=teens[:3], leaders=[leader16], group=bg)
    s_on = w.session(D(2025, 3, 10), participants=teens[:3], leaders=[leader16], group=bg)
    verdicts = {s.session_id: s for s in w.evaluate("2025H1").sessions(b.id)}
    assert "no_leader" in [r.code for r in verdicts[s_before].reasons]
    assert "no_leader" not in [r.code for r in verdicts[s_on].reasons]


def test_skelleftea_pot_split_estimate_then_final(world):
    w = world("skelleftea-pot")
    kids = [w.person(12) for _ in range(5)]
    lead = w.person(30)
    b, bg = w.association()
    # Pot 600,000 SEK: 40 % = 240,000 over valid sessions, 60 % = 360,000 over counted participations.
    # | assoc | sessions | participations | amount (exact)                                       | öre (floor)  |
    # | A     | 2        | 3 + 3 = 6      | 2 × 80,000 + 6 × 32,727.2727… = 160,000 + 196,363.6363… | 16000000 + 19636363 |
    # | B     | 1        | 5              | 80,000 + 5 × 32,727.2727… = 80,000 + 163,636.3636…  | 8000000 + 16363636  |
    # | sum   | 3        | 11             |                                                      | 59999999 (1 öre under the pot) |
    w.session(D(2025, 3, 3), participants=kids[:3], leaders=[lead])
    w.session(D(2025, 3, 4), participants=kids[:3], leaders=[lead])
    w.session(D(2025, 3, 5), participants=kids, leaders=[lead], group=bg)
    ev = w.evaluate()
    assert ev.estimate
    assert _lines(ev.associations[w.assoc.id]) == [("pot-session", 2, 16000000), ("pot-participation", 6, 19636363)]
    assert _lines(ev.associations[b.id]) == [("pot-session", 1, 8000000), ("pot-participation", 5, 16363636)]
    assert ev.total_ore == 59999999
    one = expected_grant(w.tenant.id, w.assoc.id, "2025H1")
    assert one["total_ore"] == 35636363 and one["estimate"]
    assert one["lines"][1]["rate_ore"] == "3272727.2727"
    with tenant_scope(w.tenant.id):
        db.session.execute(select(GrantPeriod).where(GrantPeriod.code == "2025H1")).scalar_one().status = "closed"
        db.session.flush()
    assert not w.evaluate().estimate


def test_fagersta_session_rates_and_meetings(world):
    w = world("fagersta")
    kids = [w.person(15) for _ in range(3)]
    lead = w.person(30)
    d, dg = w.association(disability_association=True)
    # | assoc      | sessions                          | amount          |
    # | ordinary   | 2 valid training + 1 meeting (Moete, excluded) | 2 × 75.00 = 150.00 |
    # | disability | 1 valid                           | 100.00          |
    w.session(D(2025, 5, 5), participants=kids, leaders=[lead])
    w.session(D(2025, 5, 6), participants=kids, leaders=[lead])
    meeting = w.session(D(2025, 5, 7), participants=kids, leaders=[lead], session_type="Moete")
    w.session(D(2025, 5, 8), participants=kids, leaders=[lead], group=dg)
    ev = w.evaluate()
    assert _lines(ev.associations[w.assoc.id]) == [("session", 2, 15000)]
    assert _lines(ev.associations[d.id]) == [("session-disability-association", 1, 10000)]
    reasons = [s for s in ev.sessions() if s.session_id == meeting][0].reasons
    assert [r.code for r in reasons] == ["type_excluded"] and "möte" in reasons[0].sv


def test_new_version_applies_from_its_date_and_never_changes_a_closed_period(world):
    w = world("kungsbacka-2023")
    kids = [w.person(12) for _ in range(3)]
    lead = w.person(30)
    w.session(D(2025, 3, 3), participants=kids, leaders=[lead])
    w.session(D(2025, 9, 1), participants=kids, leaders=[lead])
    doc = load_preset("kungsbacka-2023")
    doc["rates"][0]["amount"] = "10.00"
    with tenant_scope(w.tenant.id):
        db.session.execute(select(GrantPeriod).where(GrantPeriod.code == "2025H1")).scalar_one().status = "closed"
        with pytest.raises(DomainError) as err:
            install_ruleset(doc, D(2025, 3, 1))
        assert err.value.field == "valid_from"
        rs = install_ruleset(doc, D(2025, 7, 1))
        assert rs.version == 2
        v1 = db.session.execute(select(RuleSet).where(RuleSet.version == 1)).scalar_one()
        assert v1.valid_to == D(2025, 6, 30)
    assert w.evaluate("2025H1").total_ore == 3 * 750
    h2 = w.evaluate("2025H2")
    assert h2.total_ore == 3 * 1000 and h2.rule_set_version == 2


def test_unknown_preset_is_refused_naming_the_known_ones(ctx):
    with pytest.raises(DomainError) as err:
        f.create_tenant(ruleset="atlantis")
    assert err.value.field == "ruleset"
    assert "kungsbacka-2023" in err.value.message and "malmo-2020" in err.value.message


def test_exclusions_from_outside_the_rules_do_not_count_and_say_why(world):
    w = world("kungsbacka-2023")
    kids = [w.person(12) for _ in range(4)]
    lead = w.person(30)
    sid = w.session(D(2025, 3, 3), participants=kids, leaders=[lead])
    calls = []

    def clash_source(conn, tenant_id, starts_on, ends_on):
        calls.append((tenant_id, starts_on, ends_on))
        return [(sid, kids[0].id, "clash", "Deltagaren var samtidigt på en annan sammankomst",
                 "The participant was at another session at the same time")]

    register_exclusion(clash_source)
    out = expected_grant(w.tenant.id, w.assoc.id, "2025H1")
    # 4 kids − 1 excluded = 3 × 7.50 = 22.50
    assert out["total_ore"] == 2250 and out["participations_counted"] == 3
    assert out["not_counted"] == [{"code": "clash", "sv": "Deltagaren var samtidigt på en annan sammankomst",
                                   "en": "The participant was at another session at the same time", "count": 1}]
    assert calls and calls[0][0] == w.tenant.id


def test_gender_balance_plugin_and_expected_grant_shape(world):
    w = world(None)
    doc = load_preset("goteborg")
    doc["association"] = {}
    doc["plugins"] = [{"name": "gender_balance", "params": {"amount": "100.00"}}]
    with tenant_scope(w.tenant.id):
        install_ruleset(doc, D(2000, 1, 1))
    girls = [w.person(12, female=True) for _ in range(2)]
    boys = [w.person(12) for _ in range(3)]
    lead = w.person(30)
    # 2 girls × 9.89 + 3 boys × 8.02 = 19.78 + 24.06 = 43.84; 2/5 = 40 % girls → bonus 100.00 → 143.84
    w.session(D(2025, 3, 4), participants=girls + boys, leaders=[lead])
    w.session(D(2025, 3, 4), "10:00", "10:30", girls + boys, [lead])  # school hours and too short
    out = expected_grant(w.tenant.id, w.assoc.id, "2025H1")
    assert out["total_ore"] == 14384
    assert [ln["clause"] for ln in out["lines"]] == ["participation-girls", "participation", "gender_balance"]
    assert out["lines"][0] == {"clause": "participation-girls", "kind": "rate",
                               "description_sv": "Per deltagartillfälle, flickor/kvinnor",
                               "description_en": "Per participation, girls/women", "units": 2, "rate_ore": "989",
                               "amount_ore": 1978}
    assert out["sessions_valid"] == 1 and out["sessions_rejected"] == 1
    rejected = out["rejected_sessions"][0]
    assert {r["code"] for r in rejected["reasons"]} == {"time_window", "too_short"}
    assert out["association"]["organisationsnummer"] == w.assoc.organisationsnummer_display
