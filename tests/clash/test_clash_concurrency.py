"""No race: channels reporting the same person at the same moment both end up flagged (PostgreSQL)."""

from __future__ import annotations

import threading
import time

from clashkit import command, make_world
from sqlalchemy import create_engine, select, text

from apn.extensions import db
from apn.intake import ingest
from apn.models import ClashFlag
from apn.tenancy import tenant_scope


def _setup(app):
    with app.app_context():
        w = make_world()
        db.session.commit()
        return w.tenant.id, [(g.id, g.association_id) for g in (w.ga, w.gb, w.ga2)], [p.id for p in w.people]


class _Group:
    def __init__(self, gid, aid):
        self.id, self.association_id = gid, aid


class _Person:
    def __init__(self, pid):
        self.id = pid


def _flags(app, tid):
    with app.app_context(), tenant_scope(tid):
        return db.session.execute(select(ClashFlag.kind, ClashFlag.person_id)).all()


def _waiting_for(postgres, locktype: str, seconds: float = 10) -> int:
    """How many lock requests of ``locktype`` wait, polled until one does or ``seconds`` pass."""
    eng = create_engine(postgres.url("apn_owner"))
    try:
        deadline = time.monotonic() + seconds
        waiting = 0
        while time.monotonic() < deadline and not waiting:
            with eng.connect() as conn:
                waiting = conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = :k AND NOT granted"),
                                       {"k": locktype}).scalar()
            time.sleep(0.02)
        return waiting
    finally:
        eng.dispose()


def _race(app, postgres, tid, held: list, waiting: list, locktype: str) -> tuple[list, list]:
    """Ingest ``held`` in a transaction kept open, then ``waiting`` in another, which must wait on a lock of
    ``locktype``; then commit the first. Returns (the second's intake results, errors of either)."""
    ready, release, errors, results = threading.Event(), threading.Event(), [], []

    def first():
        try:
            with app.app_context(), tenant_scope(tid):
                ingest(held)
                ready.set()
                release.wait(10)
                db.session.commit()
        except Exception as exc:  # pragma: no cover - reported by the caller
            errors.append(exc)
            ready.set()

    def second():
        try:
            with app.app_context(), tenant_scope(tid):
                results.append(ingest(waiting))
                db.session.commit()
        except Exception as exc:  # pragma: no cover - reported by the caller
            errors.append(exc)

    t1 = threading.Thread(target=first)
    t1.start()
    assert ready.wait(10)
    t2 = threading.Thread(target=second)
    t2.start()
    blocked = _waiting_for(postgres, locktype)
    release.set()
    t1.join(10)
    t2.join(10)
    assert blocked == 1, f"the second transaction did not wait on a {locktype} lock"
    return results, errors


def test_second_reporter_waits_for_the_first_and_sees_its_session(app, postgres):
    tid, groups, people = _setup(app)
    shared = _Person(people[0])
    # The second transaction waits on the advisory lock of the shared person while the first is open.
    _results, errors = _race(
        app, postgres, tid,
        [command(_Group(*groups[0]), participants=[shared, _Person(people[1])], channel="app")],
        [command(_Group(*groups[1]), participants=[shared], channel="api", code="api-1")], "advisory")
    assert not errors, errors
    assert _flags(app, tid) == [("person_overlap", shared.id)]


def test_simultaneous_reports_from_four_channels_are_all_flagged(app, postgres):
    tid, groups, people = _setup(app)
    shared = _Person(people[0])
    barrier = threading.Barrier(4)
    errors = []

    def reporter(i, channel):
        try:
            with app.app_context(), tenant_scope(tid):
                gid, aid = groups[i % len(groups)]
                cmd = command(_Group(gid, aid), participants=[shared, _Person(people[1 + i])], channel=channel,
                              code=f"{channel}-{i}", start=f"18:{i * 5:02d}")
                barrier.wait(10)
                ingest([cmd])
                db.session.commit()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reporter, args=(i, ch)) for i, ch in enumerate(("web", "app", "api", "dak"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not errors, errors
    # Four sessions with the shared person: every pair is flagged (6 pairs; pairs of one association with
    # mostly the same people would be double reports, but each session has its own second person).
    kinds = sorted(k for k, _p in _flags(app, tid))
    assert len(kinds) == 6 and set(kinds) <= {"person_overlap", "double_report"}


def test_a_session_deleted_while_it_is_being_flagged_is_retried_cleanly(app, postgres):
    tid, groups, people = _setup(app)
    shared = _Person(people[0])
    with app.app_context(), tenant_scope(tid):
        ingest([command(_Group(*groups[0]), participants=[shared], channel="dak", code="gone-1")])
        db.session.commit()
    # The reporter still sees the session being deleted and flags against it: its foreign-key check waits
    # for the deleting transaction, then fails; the check is retried from its savepoint.
    results, errors = _race(
        app, postgres, tid,
        [command(_Group(*groups[0]), method="remove", code="gone-1", channel="dak", start=None, stop=None)],
        [command(_Group(*groups[1]), participants=[shared], channel="web")], "transactionid")
    assert not errors, errors
    assert results and results[0].accepted[0].notes == []
    assert _flags(app, tid) == []


def test_an_attendance_update_racing_a_change_of_times_waits_and_follows_it(app, postgres):
    """A partner patches marks (adding a person) while another request moves the same session: the patch
    waits for the move (key-share lock on the session), and its new row carries the new times."""
    from apn.models import ActivitySession, Attendance

    tid, groups, people = _setup(app)
    group = _Group(*groups[0])
    with app.app_context(), tenant_scope(tid):
        ingest([command(group, participants=[_Person(people[0])], channel="api", code="move-1")])
        db.session.commit()
    results, errors = _race(
        app, postgres, tid,
        [command(group, participants=[_Person(people[0])], channel="api", code="move-1", start="20:00",
                 stop="21:00")],
        [command(group, participants=[_Person(people[1])], channel="api", code="move-1", method="update",
                 start=None, stop=None)], "transactionid")
    assert not errors, errors
    assert results and results[0].accepted and not results[0].refused
    with app.app_context(), tenant_scope(tid):
        session = db.session.execute(select(ActivitySession)).scalar_one()
        spans = set(db.session.execute(select(Attendance.person_id, Attendance.starts_at, Attendance.ends_at)))
    assert session.start_time.strftime("%H:%M") == "20:00"
    assert spans == {(people[0], session.starts_at, session.ends_at), (people[1], session.starts_at, session.ends_at)}
