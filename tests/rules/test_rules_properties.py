"""Property tests (hypothesis) of the engine's core on generated worlds, with the kungsbacka-2023 preset.

The core (:func:`apn.rules.engine._compute`) is the pure function behind :func:`apn.rules.evaluate`: the
generated worlds are fed to it as the same integer columns the database queries return.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from apn.rules.engine import R_COUNTED, _compute
from apn.rules.rulesets import load_preset
from apn.rules.schema import parse_document

EPOCH = dt.date(1970, 1, 1)
DOC = parse_document(load_preset("kungsbacka-2023"))
LOK = parse_document(load_preset("lok-2023"))
ASSOCS = {1: (1, "8020000010", "A", False), 2: (2, "8020000028", "B", True)}


@dataclass
class _Period:
    code: str = "2025H1"
    starts_on: dt.date = dt.date(2025, 1, 1)
    ends_on: dt.date = dt.date(2025, 6, 30)
    deadline: dt.date = dt.date(2025, 8, 25)
    status: str = "open"


@st.composite
def worlds(draw):
    """Sessions (id, assoc, day, start, duration, type), attendance (session, person, flags), people."""
    n_people = draw(st.integers(1, 14))
    ages = draw(st.lists(st.integers(4, 45), min_size=n_people, max_size=n_people))
    people = np.array([[100 + i, (dt.date(2025 - a, 6, 1) - EPOCH).days, draw(st.integers(0, 2))]
                       for i, a in enumerate(ages)], dtype=np.int64).reshape(-1, 3)
    n_sessions = draw(st.integers(1, 12))
    base = (dt.date(2025, 3, 1) - EPOCH).days
    sessions, rows = [], []
    for s in range(n_sessions):
        sid = 1000 + s
        sessions.append([sid, draw(st.sampled_from([1, 2])), base + draw(st.integers(0, 20)),
                         draw(st.sampled_from([600, 1080, 1410])), draw(st.sampled_from([30, 44, 45, 60, 90])), 0])
        who = draw(st.lists(st.integers(0, n_people - 1), unique=True, max_size=n_people))
        for p in who:
            role = draw(st.sampled_from([0, 0, 0, 0, 1, 2]))
            flags = role + (4 if draw(st.booleans()) or role else 0) + (8 if draw(st.booleans()) else 0)
            rows.append([sid, 100 + p, flags])
    return (np.array(sessions, dtype=np.int64).reshape(-1, 6), np.array(rows, dtype=np.int64).reshape(-1, 3),
            people)


def _run(world, doc=DOC):
    S, A, P = world
    frame, results = _compute(doc, _Period(), S, A, P, [], ASSOCS, {}, True)
    return frame, results


def _verdicts(frame) -> list[tuple[int, int, int]]:
    return sorted(zip(frame.s_id[frame.r_s].tolist(), frame.r_pid.tolist(), frame.r_reason.tolist(), strict=True))


def _totals(results) -> dict[int, int]:
    return {k: r.total_ore for k, r in results.items()}


PROPS = settings(max_examples=30, deadline=None)


@PROPS
@given(worlds(), st.randoms(use_true_random=False))
def test_shuffling_the_input_changes_nothing(world, rnd):
    S, A, P = world
    frame, results = _run(world)
    perm = [np.array(rnd.sample(range(len(x)), len(x)), dtype=np.int64) for x in (S, A, P)]
    frame2, results2 = _run((S[perm[0]], A[perm[1]], P[perm[2]]))
    assert _totals(results) == _totals(results2)
    assert _verdicts(frame) == _verdicts(frame2)


@PROPS
@given(worlds(), st.data())
def test_adding_an_ineligible_participant_never_changes_the_payout(world, data):
    S, A, P = world
    _, before = _run(world)
    age = data.draw(st.sampled_from([3, 5, 6, 21, 30, 70]))
    new_person = np.array([[999, (dt.date(2025 - age, 2, 2) - EPOCH).days, 1]], dtype=np.int64)
    sid = int(S[data.draw(st.integers(0, len(S) - 1)), 0])
    row = np.array([[sid, 999, 4 + (8 if data.draw(st.booleans()) else 0)]], dtype=np.int64)
    _, after = _run((S, np.vstack([A, row]), np.vstack([P, new_person])))
    assert _totals(before) == _totals(after)


@PROPS
@given(worlds())
def test_no_amount_is_negative_and_totals_add_up(world):
    for doc in (DOC, LOK):
        _, results = _run(world, doc)
        for r in results.values():
            assert r.total_ore >= 0
            assert all(ln.amount_ore >= 0 and ln.units >= 0 for ln in r.lines if ln.kind != "reduction")
            assert r.total_ore == sum(ln.amount_ore for ln in r.lines)


@PROPS
@given(worlds())
def test_caps_are_never_exceeded(world):
    frame, _ = _run(world)
    counted = frame.r_reason == R_COUNTED
    # At most 20 counted per present leader in a session.
    per_session = np.bincount(frame.r_s[counted], minlength=len(frame.s_id))
    assert (per_session <= 20 * frame.s_nlead).all()
    # At most 3 (ages 7–9) / 5 (ages 10–20) per person, ISO week and association.
    week = (frame.s_day - (frame.s_day + 3) % 7)[frame.r_s]
    assoc = frame.s_assoc[frame.r_s]
    seen: dict[tuple[int, int, int], int] = {}
    for j in np.flatnonzero(counted).tolist():
        key = (int(assoc[j]), int(frame.r_pid[j]), int(week[j]))
        seen[key] = seen.get(key, 0) + 1
        assert seen[key] <= (3 if frame.r_age[j] <= 9 else 5)
        assert 7 <= frame.r_age[j] <= 20
