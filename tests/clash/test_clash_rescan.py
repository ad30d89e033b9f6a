"""Full rescans: the same flags as the intake check, the same overlaps as an independent window query."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from clashkit import command, make_world, report
from sqlalchemy import delete, select, text

from apn.clash import period_range, rescan
from apn.errors import DomainError
from apn.extensions import db
from apn.models import Attendance, ClashFlag
from apn.tenancy import tenant_scope

#: Independent oracle: participations that overlap another participation of the same person.
WINDOW_SQL = """
WITH p AS (
  SELECT a.person_id, a.session_id, s.starts_at, s.ends_at
  FROM attendance a JOIN activity_session s ON s.tenant_id = a.tenant_id AND s.id = a.session_id
  WHERE a.tenant_id = :t AND a.present AND s.session_date BETWEEN :lo AND :hi
), w AS (
  SELECT person_id, session_id, starts_at, ends_at,
         MAX(ends_at) OVER (PARTITION BY person_id ORDER BY starts_at, session_id
                            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end,
         LEAD(starts_at) OVER (PARTITION BY person_id ORDER BY starts_at, session_id) AS next_start
  FROM p
)
SELECT person_id, session_id FROM w WHERE prev_end > starts_at OR next_start < ends_at
"""


def _random_sessions(world, n=70, seed=5):
    rnd = random.Random(seed)
    groups = [world.ga, world.ga2, world.gb]
    cmds = []
    for i in range(n):
        day = dt.date(2025, 2, 1) + dt.timedelta(days=rnd.randrange(3))
        start = dt.datetime.combine(day, dt.time(rnd.choice([16, 17, 18, 22, 23]), rnd.choice([0, 15, 30, 45])))
        stop = start + dt.timedelta(minutes=rnd.choice([30, 60, 90, 120]))
        people = rnd.sample(world.people, rnd.randrange(1, 6))
        leaders = rnd.sample([p for p in world.people if p not in people], rnd.randrange(0, 2))
        cmd = command(rnd.choice(groups), date=day, start=start.strftime("%H:%M"), stop=stop.strftime("%H:%M"),
                      stop_date=stop.date() if stop.date() != day else None, participants=people, leaders=leaders,
                      channel=rnd.choice(["web", "app", "api", "dak"]), code=f"rnd-{i}")
        cmds.append(cmd)
    for i in range(0, n, 10):  # batches, as channels send them
        report(world.tenant, *cmds[i:i + 10])


def _flag_set(tenant):
    with tenant_scope(tenant.id):
        return sorted((r.kind, r.session_id, r.other_session_id, r.person_id)
                      for r in db.session.execute(select(ClashFlag)).scalars())


def test_rescan_finds_exactly_what_the_intake_found(world):
    _random_sessions(world)
    at_intake = _flag_set(world.tenant)
    assert len({k for k, *_ in at_intake}) >= 2  # the data has clashes of several kinds
    with tenant_scope(world.tenant.id):
        db.session.execute(delete(ClashFlag).where(ClashFlag.tenant_id == world.tenant.id))
        stats = rescan(world.tenant.id, "2025H1")
    db.session.commit()
    assert _flag_set(world.tenant) == at_intake
    assert stats["created"] == len(at_intake) and stats["removed"] == 0


def test_rescan_agrees_with_a_window_query(world):
    _random_sessions(world, seed=11)
    with tenant_scope(world.tenant.id):
        stats = rescan(world.tenant.id, "2025")
        conn = db.session.connection()
        oracle = set(conn.execute(text(WINDOW_SQL), {"t": world.tenant.id, "lo": dt.date(2025, 1, 1),
                                                     "hi": dt.date(2025, 12, 31)}).all())
        present: dict[int, set[int]] = {}
        for sid, pid in conn.execute(select(Attendance.session_id, Attendance.person_id).where(Attendance.present)):
            present.setdefault(sid, set()).add(pid)
        found: set[tuple[int, int]] = set()
        for kind, s, o, p in _flag_set(world.tenant):
            if kind == "double_report":
                found |= {(q, x) for q in present[s] & present[o] for x in (s, o)}
            elif kind in ("person_overlap", "leader_overlap"):
                found |= {(p, s), (p, o)}
    assert stats["created"] == 0  # the intake had found them all already
    assert oracle and found == oracle


def test_rescan_removes_stale_flags_and_keeps_resolutions(world):
    p = world.people[0]
    report(world.tenant, command(world.ga, participants=[p, world.people[1]]))
    report(world.tenant, command(world.gb, participants=[p]))
    with tenant_scope(world.tenant.id):
        flag = db.session.execute(select(ClashFlag)).scalar_one()
        flag.status, flag.resolution, flag.reason = "resolved", "both", "checked"
        # A stale flag, as if written before a correction that bypassed the check.
        db.session.add(ClashFlag(tenant_id=world.tenant.id, kind="person_overlap", session_id=flag.session_id,
                                 other_session_id=flag.other_session_id, person_id=world.people[1].id,
                                 clash_key="stale"))
        db.session.flush()
        stats = rescan(world.tenant.id, "2025H1")
        rows = db.session.execute(select(ClashFlag)).scalars().all()
    assert stats["removed"] == 1
    assert [(r.id, r.status) for r in rows] == [(flag.id, "resolved")]


def test_period_codes(world):
    assert period_range(world.tenant.id, "2025H2") == (dt.date(2025, 7, 1), dt.date(2025, 12, 31))
    assert period_range(world.tenant.id, "2031") == (dt.date(2031, 1, 1), dt.date(2031, 12, 31))
    with pytest.raises(DomainError) as err:
        period_range(world.tenant.id, "spring")
    assert err.value.field == "period"


def test_cli_rescan(app, runner):
    with app.app_context():
        w = make_world(slug="pitea", kommunkod="2581")
        p = w.people[0]
        report(w.tenant, command(w.ga, participants=[p]))
        report(w.tenant, command(w.gb, participants=[p]))
        with tenant_scope(w.tenant.id):
            db.session.execute(delete(ClashFlag).where(ClashFlag.tenant_id == w.tenant.id))
        db.session.commit()
    out = runner.invoke(args=["clashes", "rescan", "--tenant", "pitea", "--period", "2025H1"])
    assert out.exit_code == 0, out.output
    assert "1 clashes, 1 flags created, 0 removed" in out.output
    bad = runner.invoke(args=["clashes", "rescan", "--tenant", "pitea", "--period", "soon"])
    assert bad.exit_code != 0 and "period:" in bad.output
    pol = runner.invoke(args=["clashes", "policy", "--tenant", "pitea", "--set", '{"keep": "officer_decides"}'])
    assert pol.exit_code == 0 and '"officer_decides"' in pol.output
