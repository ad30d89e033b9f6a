"""Golden tests of the two presets with an exact reading in the issue: kungsbacka-2023 and malmo-2020.

Every amount below is computed by hand in the table above the assertion. Ages are "age in the year"
(2025 − birth year).
"""

from __future__ import annotations

import datetime as dt

D = dt.date


def _codes(verdict) -> list[str]:
    return [r.code for r in verdict.reasons]


def test_kungsbacka_validity_ages_caps_and_midnight(world):
    w = world("kungsbacka-2023")
    k6, k7, k20, k21 = w.person(6), w.person(7), w.person(20), w.person(21)
    k10 = w.person(10)
    l13, l12, l40 = w.person(13), w.person(12), w.person(40)
    t13 = w.person(13)  # a temporary leader
    kids = [k7, k20, k10]
    # | session | when (2025)             | who                           | verdict            | counted | paid leaders |
    # | S1      | Mon 3 Mar 18:00–18:45   | k6 k7 k20 k21 k10 + leader 13 | valid (45 min)     | 3       | l13 (13–20)  |
    # | S2      | Tue 4 Mar 18:00–18:44   | k7 k20 k10 + leader 40        | too_short (44 min) | 0       | -            |
    # | S3      | Wed 5 Mar               | k7 k20 k6 k21 + leader 40     | too_few (2 of 3)   | 0       | -            |
    # | S4      | Thu 6 Mar               | k7 k20 k10 + leader 12        | no_leader (12<13)  | 0       | -            |
    # | S5      | Fri 7 Mar               | k7 k20 k10 + temporary 13     | valid              | 3       | - (temporary)|
    # | S6      | Sat 8 Mar 23:30–00:30   | k7 k20 k10 + leader 40        | valid (60 min)     | 3       | - (40 > 20)  |
    # | S7      | Sun 9 Mar               | k7 k20 k10 + leader 40        | valid; k7 4th (3/w)| 2       | -            |
    # | S8      | Mon 10 Mar (new week)   | k7 k20 k10 + leader 40        | valid              | 3       | -            |
    s1 = w.session(D(2025, 3, 3), "18:00", "18:45", [k6, k7, k20, k21, k10], [l13])
    s2 = w.session(D(2025, 3, 4), "18:00", "18:44", kids, [l40])
    s3 = w.session(D(2025, 3, 5), participants=[k7, k20, k6, k21], leaders=[l40])
    s4 = w.session(D(2025, 3, 6), participants=kids, leaders=[l12])
    s5 = w.session(D(2025, 3, 7), participants=kids, temporary_leaders=[t13])
    s6 = w.session(D(2025, 3, 8), "23:30", "00:30", kids, [l40], stop_date=D(2025, 3, 9))
    s7 = w.session(D(2025, 3, 9), "10:00", "11:00", kids, [l40])
    w.session(D(2025, 3, 10), participants=kids, leaders=[l40])
    ev = w.evaluate()
    # counted participations: 3 + 3 + 3 + 2 + 3 = 14 × 7.50 = 105.00; paid leader participations: 1 × 7.50
    # total = 112.50 SEK = 11250 öre
    res = ev.associations[w.assoc.id]
    assert res.participations_counted == 14
    assert res.leader_participations_paid == 1
    assert [(ln.clause, ln.units, ln.amount_ore) for ln in res.lines] == [("participation", 14, 10500),
                                                                           ("young-leader", 1, 750)]
    assert res.total_ore == 11250
    assert (res.sessions_valid, res.sessions_rejected) == (5, 3)
    by_id = {s.session_id: s for s in ev.sessions(w.assoc.id)}
    assert by_id[s1].accepted and by_id[s5].accepted and by_id[s6].accepted
    assert _codes(by_id[s2]) == ["too_short"]
    assert by_id[s2].reasons[0].sv == "Sammankomsten var 44 minuter; minst 45 krävs"
    assert by_id[s2].reasons[0].en == "The session lasted 44 minutes; at least 45 are required"
    assert _codes(by_id[s3]) == ["too_few_participants"]
    assert _codes(by_id[s4]) == ["no_leader"]
    assert by_id[s6].duration_minutes == 60
    rows = {(p.session_id, p.person_id): p for p in ev.participations(w.assoc.id)}
    assert rows[(s1, k6.id)].reason.code == "not_eligible" and "6 år under året" in rows[(s1, k6.id)].reason.sv
    assert rows[(s1, k21.id)].reason.code == "not_eligible"
    assert rows[(s1, k7.id)].counted and rows[(s1, k20.id)].counted
    assert rows[(s1, l13.id)].reason.code == "leader_paid"
    assert rows[(s5, t13.id)].role == "temporary_leader" and not rows[(s5, t13.id)].counted
    assert rows[(s7, k7.id)].reason.code == "cap_week" and not rows[(s7, k7.id)].counted
    assert rows[(s7, k10.id)].counted


def test_kungsbacka_per_leader_cap(world):
    w = world("kungsbacka-2023")
    kids = [w.person(12) for _ in range(23)]
    l40, l13 = w.person(40), w.person(13)
    # | session    | kids | leaders      | counted            | amount                       |
    # | Tue 1 Apr  | 23   | l40          | 20 (20 per leader) | 20 × 7.50 = 150.00           |
    # | Wed 2 Apr  | 23   | l40 + l13    | 23 (limit 40)      | 23 × 7.50 + 7.50 = 180.00    |
    first = w.session(D(2025, 4, 1), participants=kids, leaders=[l40])
    w.session(D(2025, 4, 2), participants=kids, leaders=[l40, l13])
    ev = w.evaluate()
    assert ev.associations[w.assoc.id].total_ore == 15000 + 18000
    cut = [p for p in ev.participations(session_id=first) if p.reason.code == "leader_cap"]
    # The kept ones are the 20 lowest person ids; the 3 highest are cut.
    assert sorted(p.person_id for p in cut) == sorted(k.id for k in kids)[-3:]
    assert "Högst 20 deltagare per närvarande ledare" in cut[0].reason.sv


def test_kungsbacka_week_boundary_and_earliest_first(world):
    w = world("kungsbacka-2023")
    k8 = w.person(8)
    others = [w.person(11), w.person(11)]
    lead = w.person(30)
    # k8 is aged 8: at most 3 per ISO week. Week 10 of 2025 is Mon 3 Mar – Sun 9 Mar.
    # | date      | ISO week | k8 counted? | why                              |
    # | Sun 9 Mar 10:00 | 10 | yes (1st)   |                                  |
    # | Sun 9 Mar 12:00 | 10 | yes (2nd)   |                                  |
    # | Sun 9 Mar 14:00 | 10 | yes (3rd)   |                                  |
    # | Sun 9 Mar 08:00 | 10 | -> earliest, so this one is 1st and the 14:00 one is 4th: not counted |
    # | Mon 10 Mar      | 11 | yes (new week)                                 |
    # Reported out of order on purpose.
    late = w.session(D(2025, 3, 9), "14:00", "15:00", [k8, *others], [lead])
    w.session(D(2025, 3, 10), "18:00", "19:00", [k8, *others], [lead])
    w.session(D(2025, 3, 9), "12:00", "13:00", [k8, *others], [lead])
    w.session(D(2025, 3, 9), "08:00", "09:00", [k8, *others], [lead])
    w.session(D(2025, 3, 9), "10:00", "11:00", [k8, *others], [lead])
    ev = w.evaluate()
    k8_rows = [p for p in ev.participations() if p.person_id == k8.id]
    assert sum(p.counted for p in k8_rows) == 4
    assert [p.session_id for p in k8_rows if not p.counted] == [late]
    # 5 sessions × 3 participants − 1 capped = 14 × 7.50 = 105.00
    assert ev.associations[w.assoc.id].total_ore == 10500


def test_malmo_2020(world):
    w = world("malmo-2020")
    g4 = w.person(4, female=True)
    b25, b26, p64, b3 = w.person(25), w.person(26), w.person(64), w.person(3)
    w65 = w.person(65, female=True)
    d30 = w.person(30)  # eligible only with the disability mark
    b10 = w.person(10)
    da = w.person(40, female=True)  # disability mark, 40
    db_ = w.person(8)  # disability mark, 8
    l13, l12 = w.person(13), w.person(12)
    five = [g4, b25, w65, d30, b10]
    # Eligible: 4–25, 65+, or the disability mark. Rate 4.80, girls 4–25: 5.30. Once per day per association.
    # | session             | eligible present               | verdict                 | amount              |
    # | Mon 3 Feb 17:00–18  | g4 b25 w65 d30(dis) b10 = 5    | valid                   | 5.30 + 4 × 4.80 = 24.50 |
    # |   (b26 p64 b3 present, not eligible)                                                                |
    # | Mon 3 Feb 19:00–20:30 | the same 5                   | valid, all counted today| 0                   |
    # | Tue 4 Feb 59 min    | 5                              | too_short               | 0                   |
    # | Wed 5 Feb           | d30 da db (all disability) = 3 | valid (3 when all dis.) | 3 × 4.80 = 14.40    |
    # | Thu 6 Feb           | d30 da db + b10 = 4 (b10 not)  | too_few (needs 5)       | 0                   |
    # | Fri 7 Feb           | 5, leader aged 12              | no_leader               | 0                   |
    # | Sat 8 Feb 23:30–00:30 | 5                            | valid (60 min)          | 24.50               |
    # | Sun 9 Feb 10:00     | 5                              | valid (new day)         | 24.50               |
    # total 24.50 + 14.40 + 24.50 + 24.50 = 87.90 SEK: girls 3 × 5.30 = 15.90, others (4+3+4+4) × 4.80 = 72.00
    w.session(D(2025, 2, 3), "17:00", "18:00", [*five, b26, p64, b3], [l13], disabled=[d30])
    again = w.session(D(2025, 2, 3), "19:00", "20:30", five, [l13], disabled=[d30])
    short = w.session(D(2025, 2, 4), "17:00", "17:59", five, [l13], disabled=[d30])
    w.session(D(2025, 2, 5), participants=[d30, da, db_], leaders=[l13], disabled=[d30, da, db_])
    few = w.session(D(2025, 2, 6), participants=[d30, da, db_, b10], leaders=[l13], disabled=[d30, da, db_])
    noleader = w.session(D(2025, 2, 7), participants=five, leaders=[l12], disabled=[d30])
    w.session(D(2025, 2, 8), "23:30", "00:30", five, [l13], disabled=[d30], stop_date=D(2025, 2, 9))
    w.session(D(2025, 2, 9), "10:00", "11:00", five, [l13], disabled=[d30])
    ev = w.evaluate()
    res = ev.associations[w.assoc.id]
    assert [(ln.clause, ln.units, ln.amount_ore) for ln in res.lines] == [
        ("participation-girls-4-25", 3, 1590), ("participation", 15, 7200)]
    assert res.total_ore == 8790
    assert res.leader_participations_paid == 0
    verdicts = {s.session_id: s for s in ev.sessions()}
    assert verdicts[again].accepted and verdicts[again].participations_counted == 0
    assert _codes(verdicts[short]) == ["too_short"]
    assert _codes(verdicts[few]) == ["too_few_participants"]
    assert "minst 5 krävs" in verdicts[few].reasons[0].sv
    assert _codes(verdicts[noleader]) == ["no_leader"]
    capped = [p for p in ev.participations(session_id=again)]
    assert {p.reason.code for p in capped if p.role == "participant"} == {"cap_day"}
