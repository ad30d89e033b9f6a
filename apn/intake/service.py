"""The one intake: validate → normalise → persist → after-persist hooks (clash check), for every channel.

:func:`ingest` takes a list of :class:`SessionCommand` and handles them as a set: people are resolved and
created in bulk, sessions and attendance are written with set-based statements. A command that is wrong is
refused with the field and the reason and nothing of it is written; the others go through. The caller
commits once (request or CLI boundary).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import and_, delete, insert, select, tuple_, update

from apn.extensions import db
from apn.intake.bulk import insert_rows, one_of, refresh_statistics, take_write_lock
from apn.intake.commands import AttendanceMark, SessionCommand
from apn.intake.people import PersonProblem, resolve
from apn.models import (
    ActivitySession,
    Application,
    Association,
    Attendance,
    Facility,
    GrantPeriod,
    Group,
    allocate_ids,
)
from apn.models.base import utcnow
from apn.models.session import ATTENDANCE_ROLES, CHANNELS, SESSION_TYPES
from apn.tenancy import require_tenant_id

MAX_SESSION_HOURS = 24
#: How far past today (in Sweden) a session may be dated: a session reported just after midnight, or by a
#: partner system whose clock runs ahead, is still taken; a later date is refused (``date_in_future``).
FUTURE_MARGIN = dt.timedelta(days=1)
#: Period report states that lock the association's sessions of the period.
LOCKING_REPORTS = ("submitted", "decided")
#: Stable codes of the refusals about the date (docs/partners.md lists them for partners).
PERIOD_CLOSED = "period_closed"
PERIOD_SUBMITTED = "period_submitted"
PERIOD_DECIDED = "period_decided"
NO_PERIOD = "no_period"
DATE_IN_FUTURE = "date_in_future"
LOCK_CODES = (PERIOD_CLOSED, PERIOD_SUBMITTED, PERIOD_DECIDED)
#: The code and reason given to the loser of a race: a concurrent request stored or removed the same session
#: first (the API answers 409; sending it again gives the sequential outcome).
CONCURRENT_WRITE = "concurrent_write"
CONCURRENT_REASON = "another request wrote this session at the same moment; send it again"


@dataclass
class Refusal:
    """A command that was not accepted: which item, which field, why."""

    ref: str | None
    field: str | None
    reason: str
    partner_code: str | None = None
    #: A stable machine-readable code (``period_closed``, ``date_in_future``, …) where one is defined.
    code: str | None = None

    def as_dict(self) -> dict:
        return {"ref": self.ref, "field": self.field, "reason": self.reason, "kod": self.partner_code,
                "code": self.code}


@dataclass
class Outcome:
    """A command that was accepted."""

    ref: str | None
    session_id: int
    action: str  # created | replaced | updated | removed
    participations: int = 0
    leader_participations: int = 0
    notes: list[dict] = field(default_factory=list)
    partner_code: str | None = None


@dataclass
class IntakeResult:
    """What happened to each command of a batch."""

    accepted: list[Outcome] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)

    @property
    def participations(self) -> int:
        return sum(o.participations for o in self.accepted)

    @property
    def leader_participations(self) -> int:
        return sum(o.leader_participations for o in self.accepted)


#: Called after a batch is persisted with (tenant_id, affected session ids, removed session ids, result).
#: The clash check registers itself here, so every channel gets it.
AfterPersist = Callable[[int, list[int], list[int], IntakeResult], None]
_after_persist: list[AfterPersist] = []


def register_after_persist(hook: AfterPersist) -> None:
    """Add a hook run after every persisted batch (idempotent)."""
    if hook not in _after_persist:
        _after_persist.append(hook)


def session_times(date: dt.date, start: dt.time, stop: dt.time, stop_date: dt.date | None):
    """Start and end timestamps; a stop not after the start without a stop date means the next day."""
    starts = dt.datetime.combine(date, start)
    end_date = stop_date or date
    ends = dt.datetime.combine(end_date, stop)
    return starts, ends


def _validate(cmd: SessionCommand, latest: dt.date) -> Refusal | None:
    def refuse(fld: str, reason: str) -> Refusal:
        return Refusal(cmd.ref, fld, reason, cmd.partner_code)

    if cmd.method not in ("add", "update", "remove"):
        return refuse("method", "must be add, update or remove")
    if cmd.channel not in CHANNELS:
        return refuse("channel", f"must be one of {', '.join(CHANNELS)}")
    if cmd.partner_code is not None and not (3 <= len(cmd.partner_code) <= 50):
        return refuse("kod", "the session code must be 3–50 characters")
    if cmd.method == "remove":
        if cmd.session_id is None and cmd.partner_code is None:
            return refuse("kod", "say which session to remove")
        return None
    if cmd.session_date is None:
        return refuse("date", "the date is missing")
    if cmd.method == "update":
        return None  # the session keeps its stored date; the period checks in ingest() look at that one
    if cmd.session_date > latest:
        return Refusal(cmd.ref, "date", f"the date {cmd.session_date.isoformat()} is out of range: it is in the "
                       f"future (the latest date taken today is {latest.isoformat()})", cmd.partner_code,
                       DATE_IN_FUTURE)
    if cmd.start_time is None:
        return refuse("start_time", "the start time is missing")
    if cmd.stop_time is None:
        return refuse("stop_time", "the stop time is missing")
    if cmd.stop_date is not None and cmd.stop_date < cmd.session_date:
        return refuse("stop_date", "the stop date is before the date")
    starts, ends = session_times(cmd.session_date, cmd.start_time, cmd.stop_time, cmd.stop_date)
    if ends <= starts:
        return refuse("stop_time", "the stop time must be after the start time (give a stop date for a session "
                                   "that ends after midnight)")
    if ends - starts > dt.timedelta(hours=MAX_SESSION_HOURS):
        return refuse("stop_time", f"a session may last at most {MAX_SESSION_HOURS} hours")
    if cmd.activity is not None and len(cmd.activity) > 120:
        return refuse("activity", "the activity may be at most 120 characters")
    if cmd.session_type not in SESSION_TYPES:
        return refuse("type", f"must be one of {', '.join(SESSION_TYPES)}")
    if cmd.group_id is None:
        return refuse("group_id", "the group (attendance card) is missing")
    for i, mark in enumerate(cmd.attendance):
        if mark.role not in ATTENDANCE_ROLES:
            return refuse(f"attendance[{i}].role", f"must be one of {', '.join(ATTENDANCE_ROLES)}")
    return None


def latest_session_date() -> dt.date:
    """The latest session date taken now: today in Sweden plus :data:`FUTURE_MARGIN`."""
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo("Europe/Stockholm")).date() + FUTURE_MARGIN


class _PeriodRule:
    """The one rule on a session's date, for every channel: its grant period must be open for the association.

    A period is locked for an association when the municipality has closed it (``period_closed``), or the
    association's period report is submitted (``period_submitted``) or decided (``period_decided``). A date
    in no grant period of the municipality is refused for new dates (``no_period``): nothing could ever be
    claimed for it. A stored date in no period is not locked (it can be corrected or removed).
    """

    def __init__(self, conn, tenant_id: int, association_ids: set[int]) -> None:
        self.periods = conn.execute(select(
            GrantPeriod.id, GrantPeriod.code, GrantPeriod.starts_on, GrantPeriod.ends_on, GrantPeriod.status)
            .where(GrantPeriod.tenant_id == tenant_id).order_by(GrantPeriod.starts_on)
            .with_for_update(read=True)).all()
        self.reports = {(a, p): st for a, p, st in conn.execute(select(
            Application.association_id, Application.period_id, Application.status).where(
            Application.tenant_id == tenant_id, Application.association_id.in_(association_ids),
            Application.status.in_(LOCKING_REPORTS)))} if association_ids else {}

    def locked(self, d: dt.date, association_id: int) -> tuple[str, str] | None:
        """``(code, reason)`` when a session dated ``d`` of the association may not be written, else None."""
        found = [p for p in self.periods if p.starts_on <= d <= p.ends_on]
        for p in found:
            if p.status == "closed":
                return PERIOD_CLOSED, f"the grant period {p.code} is closed"
        for p in found:
            state = self.reports.get((association_id, p.id))
            if state == "submitted":
                return PERIOD_SUBMITTED, (f"the association has submitted its period report for {p.code}; "
                                          "the period's sessions can no longer be changed")
            if state == "decided":
                return PERIOD_DECIDED, (f"the grant period {p.code} is decided for the association; "
                                        "its sessions can no longer be changed")
        return None

    def refusal(self, new_date: dt.date | None, old_date: dt.date | None,
                association_id: int) -> tuple[str, str] | None:
        """Why a write moving a session from ``old_date`` (None: new) to ``new_date`` (None: removed or
        attendance only) is refused, or None."""
        for d in (old_date, new_date):
            if d is not None and (hit := self.locked(d, association_id)):
                return hit
        if new_date is not None and not any(p.starts_on <= new_date <= p.ends_on for p in self.periods):
            return NO_PERIOD, (f"the date {new_date.isoformat()} is out of range: it falls in no grant period of "
                               "the municipality")
        return None


def ingest(commands: list[SessionCommand]) -> IntakeResult:
    """Validate and persist a batch of session commands for the bound tenant. Flushes, never commits.

    Every channel's write rules live here: the fields (:func:`_validate`), the references, and the period
    rule (:class:`_PeriodRule`).
    """
    tenant_id = require_tenant_id()
    result = IntakeResult()
    conn = db.session.connection()
    db.session.flush()

    ok: list[SessionCommand] = []
    latest = latest_session_date()  # once per batch: a DAK file may hold 100,000 sessions
    for cmd in commands:
        refusal = _validate(cmd, latest)
        if refusal:
            result.refused.append(refusal)
        else:
            ok.append(cmd)

    # Reference checks, one query per kind. The associations and the grant periods are read under a share
    # lock (SQLite: the write lock), so the period rule decides on what is committed: submitting a period
    # report locks the association's row (apn.services.locking) and closing a period updates its row, and
    # either waits for the batches in flight, while a batch that comes after waits for it and is refused.
    take_write_lock(conn)
    assoc_ids = {c.association_id for c in ok}
    known_assoc = set(conn.execute(select(Association.id).where(
        Association.tenant_id == tenant_id, Association.id.in_(assoc_ids)).order_by(Association.id)
        .with_for_update(read=True)).scalars()) if assoc_ids else set()
    group_ids = {c.group_id for c in ok if c.group_id is not None}
    group_assoc = dict(conn.execute(select(Group.id, Group.association_id).where(
        Group.tenant_id == tenant_id, Group.id.in_(group_ids))).all()) if group_ids else {}
    fac_ids = {c.facility_id for c in ok if c.facility_id is not None}
    known_fac = set(conn.execute(select(Facility.id).where(
        Facility.tenant_id == tenant_id, Facility.id.in_(fac_ids))).scalars()) if fac_ids else set()
    period_rule = _PeriodRule(conn, tenant_id, known_assoc)

    existing = _existing_sessions(conn, tenant_id, ok)

    checked: list[tuple[SessionCommand, dict | None]] = []
    keys_seen: set = set()
    for cmd in ok:
        def refuse(fld: str | None, reason: str, code: str | None = None, cmd=cmd) -> None:
            result.refused.append(Refusal(cmd.ref, fld, reason, cmd.partner_code, code))

        key = _key(cmd)
        if key is not None and key in keys_seen:
            # one command per session and batch: the writes are set-based and do not order two of them
            refuse("kod", "the same session appears twice in this batch")
            continue
        if key is not None:
            keys_seen.add(key)
        if cmd.association_id not in known_assoc:
            refuse("association", "unknown association")
            continue
        prev = existing.get(_key(cmd))
        if prev is not None and prev["association_id"] != cmd.association_id:
            refuse("kod", "the session belongs to another association", "other_association")
            continue
        if cmd.method in ("update", "remove") and prev is None:
            refuse("kod", "no such session to " + ("update" if cmd.method == "update" else "remove"), "not_found")
            continue
        if cmd.method == "add":
            if group_assoc.get(cmd.group_id) != cmd.association_id:
                refuse("group_id", "unknown group for this association")
                continue
            if cmd.facility_id is not None and cmd.facility_id not in known_fac:
                refuse("facility_id", "unknown facility")
                continue
        lock = period_rule.refusal(cmd.session_date if cmd.method == "add" else None,
                                   prev["session_date"] if prev else None, cmd.association_id)
        if lock:
            refuse("date", lock[1], lock[0])
            continue
        checked.append((cmd, prev))

    # People, in bulk.
    refs = [m.person for cmd, _ in checked for m in cmd.attendance]
    partner_ids = {cmd.partner_client_id for cmd, _ in checked}
    resolved: dict[int, int | PersonProblem] = {}
    for pcid in partner_ids:
        part = [m.person for cmd, _ in checked if cmd.partner_client_id == pcid for m in cmd.attendance]
        resolved.update(resolve(tenant_id, part, pcid))
    del refs

    now = utcnow()
    new_sessions: list[dict] = []
    replace_rows: list[dict] = []
    att_rows: list[dict] = []
    clear_sessions: list[int] = []
    update_marks: list[tuple[int, dict]] = []
    removed: list[int] = []
    affected: list[int] = []
    pending: list[tuple[SessionCommand, dict | None, list[tuple[int, AttendanceMark]]]] = []

    for cmd, prev in checked:
        people: list[tuple[int, AttendanceMark]] = []
        bad = None
        for i, mark in enumerate(cmd.attendance):
            pid = resolved.get(id(mark.person))
            if isinstance(pid, PersonProblem):
                bad = Refusal(cmd.ref, f"attendance[{i}].{pid.field}", pid.message, cmd.partner_code)
                break
            people.append((pid, mark))  # type: ignore[arg-type]
        if bad:
            result.refused.append(bad)
            continue
        pending.append((cmd, prev, people))

    # Every stored session the batch touches is read again under a lock (PostgreSQL: FOR NO KEY UPDATE, in
    # id order; SQLite: the write lock), so a concurrent write of the same session waits for this transaction
    # and then sees its rows: two replaces never mix their attendance, an attendance-only update carries the
    # session's current times into its rows (the foreign key compares them), and a session removed
    # meanwhile is refused. The lock lets foreign-key checks (KEY SHARE) of other sessions' flags through.
    # (SQLite's write lock was taken before the reference checks.)
    spans = _locked_spans(conn, tenant_id, sorted({prev["id"] for _, prev, _ in pending if prev is not None}))
    ids = iter(allocate_ids(conn, "activity_session", sum(1 for c, p, _ in pending if c.method == "add" and p is None)))
    for cmd, prev, people in pending:
        notes: list[dict] = []
        seen: dict[int, AttendanceMark] = {}
        for pid, mark in people:
            if pid in seen:
                notes.append({"kind": "listed_twice", "person_id": pid,
                              "message": "the same person is listed twice in the session; counted once"})
                continue
            seen[pid] = mark
        if prev is not None and prev["id"] not in spans:  # removed by another transaction since it was looked up
            if cmd.method == "add":
                result.refused.append(Refusal(cmd.ref, "kod", CONCURRENT_REASON, cmd.partner_code, CONCURRENT_WRITE))
            else:
                result.refused.append(Refusal(cmd.ref, "kod", f"no such session to {cmd.method}", cmd.partner_code))
            continue
        if cmd.method == "remove":
            removed.append(prev["id"])
            result.accepted.append(Outcome(cmd.ref, prev["id"], "removed", partner_code=cmd.partner_code))
            continue
        if cmd.method == "update":
            sid = prev["id"]
            span = spans[sid]
            for pid, mark in seen.items():
                update_marks.append((sid, _att_row(tenant_id, sid, span, pid, mark)))
            affected.append(sid)
            outcome = Outcome(cmd.ref, sid, "updated", notes=notes, partner_code=cmd.partner_code)
            result.accepted.append(outcome)
            continue
        starts, ends = session_times(cmd.session_date, cmd.start_time, cmd.stop_time, cmd.stop_date)
        row = {
            "tenant_id": tenant_id, "group_id": cmd.group_id, "association_id": cmd.association_id,
            "session_date": cmd.session_date, "start_time": cmd.start_time, "stop_time": cmd.stop_time,
            "stop_date": cmd.stop_date if cmd.stop_date and cmd.stop_date != cmd.session_date else None,
            "starts_at": starts, "ends_at": ends,
            "duration_minutes": int((ends - starts).total_seconds() // 60),
            "activity": cmd.activity, "facility_id": cmd.facility_id, "session_type": cmd.session_type,
            "team_sport": bool(cmd.team_sport), "channel": cmd.channel, "partner_client_id": cmd.partner_client_id,
            "partner_code": cmd.partner_code, "reported_by_user_id": cmd.reported_by_user_id, "updated_at": now,
        }
        if prev is None:
            sid = next(ids)
            row.update(id=sid, reported_at=now)
            new_sessions.append(row)
            action = "created"
        else:
            sid = prev["id"]
            row["id"] = sid
            replace_rows.append(row)
            clear_sessions.append(sid)
            action = "replaced"
        for pid, mark in seen.items():
            att_rows.append(_att_row(tenant_id, sid, (starts, ends), pid, mark))
        affected.append(sid)
        present = [m for m in seen.values() if m.present]
        result.accepted.append(Outcome(
            cmd.ref, sid, action,
            participations=sum(1 for m in present if m.role == "participant"),
            leader_participations=sum(1 for m in present if m.role != "participant"),
            notes=notes, partner_code=cmd.partner_code))

    # Writes, set-based.
    if removed:
        for chunk in _chunks(removed):
            conn.execute(delete(Attendance).where(Attendance.tenant_id == tenant_id, Attendance.session_id.in_(chunk)))
            conn.execute(delete(ActivitySession).where(ActivitySession.tenant_id == tenant_id,
                                                       ActivitySession.id.in_(chunk)))
    if clear_sessions:
        for chunk in _chunks(clear_sessions):
            conn.execute(delete(Attendance).where(Attendance.tenant_id == tenant_id,
                                                  Attendance.session_id.in_(chunk)))
    if new_sessions:
        # A concurrent request may store a session with the same code first (PostgreSQL waits for it to
        # end): this one's is then skipped and refused, not a unique-key error.
        insert_rows(conn, ActivitySession.__table__, new_sessions,
                    on_conflict=("tenant_id", "partner_client_id", "partner_code"))
        lost = _not_stored(conn, tenant_id, [r["id"] for r in new_sessions if r["partner_code"] is not None])
        if lost:
            new_sessions = [r for r in new_sessions if r["id"] not in lost]
            att_rows = [r for r in att_rows if r["session_id"] not in lost]
            affected = [sid for sid in affected if sid not in lost]
            for o in [o for o in result.accepted if o.session_id in lost]:
                result.accepted.remove(o)
                result.refused.append(Refusal(o.ref, "kod", CONCURRENT_REASON, o.partner_code, CONCURRENT_WRITE))
    if replace_rows:
        tbl = ActivitySession.__table__
        stmt = update(tbl).where(and_(tbl.c.tenant_id == db.bindparam("b_tenant"), tbl.c.id == db.bindparam("b_id")))
        conn.execute(stmt, [{**{k: v for k, v in r.items() if k not in ("tenant_id", "id")},
                             "b_tenant": r["tenant_id"], "b_id": r["id"]} for r in replace_rows])
    if update_marks:
        _upsert_marks(conn, tenant_id, update_marks)
    if att_rows:
        insert_rows(conn, Attendance.__table__, att_rows)
    updated = [o.session_id for o in result.accepted if o.action == "updated"]
    if updated:
        # An update changes only attendance, but the session has changed for every reader (change feeds).
        for chunk in _chunks(updated):
            conn.execute(update(ActivitySession).where(ActivitySession.tenant_id == tenant_id,
                                                       ActivitySession.id.in_(chunk)).values(updated_at=now))
        _recount(conn, tenant_id, result)

    refresh_statistics(conn, len(new_sessions) + len(replace_rows), len(att_rows))
    for hook in _after_persist:
        hook(tenant_id, affected, removed, result)
    return result


def _att_row(tenant_id: int, sid: int, span: tuple[dt.datetime, dt.datetime], pid: int,
             mark: AttendanceMark) -> dict:
    return {"tenant_id": tenant_id, "session_id": sid, "starts_at": span[0], "ends_at": span[1],
            "person_id": pid, "role": mark.role,
            "present": bool(mark.present), "disability": bool(mark.disability)}


def _key(cmd: SessionCommand):
    if cmd.session_id is not None:
        return ("id", cmd.session_id)
    if cmd.partner_code is not None:
        return ("code", cmd.partner_client_id, cmd.partner_code)
    return None


def _existing_sessions(conn, tenant_id: int, cmds: list[SessionCommand]) -> dict:
    cols = (ActivitySession.id, ActivitySession.association_id, ActivitySession.session_date,
            ActivitySession.partner_client_id, ActivitySession.partner_code)
    out: dict = {}
    ids = [c.session_id for c in cmds if c.session_id is not None]
    codes = [(c.partner_client_id, c.partner_code) for c in cmds if c.session_id is None and c.partner_code]
    for chunk in _chunks(ids):
        for r in conn.execute(select(*cols).where(ActivitySession.tenant_id == tenant_id,
                                                  ActivitySession.id.in_(chunk))).mappings():
            out[("id", r["id"])] = dict(r)
    by_client: dict = {}
    for pcid, code in codes:
        by_client.setdefault(pcid, []).append(code)
    for pcid, cl in by_client.items():
        for chunk in _chunks(cl):
            cond = ActivitySession.partner_client_id.is_(None) if pcid is None else \
                ActivitySession.partner_client_id == pcid
            for r in conn.execute(select(*cols).where(ActivitySession.tenant_id == tenant_id, cond,
                                                      one_of(conn, ActivitySession.partner_code, chunk))).mappings():
                out[("code", pcid, r["partner_code"])] = dict(r)
    return out


def _locked_spans(conn, tenant_id: int, ids: list[int]) -> dict[int, tuple[dt.datetime, dt.datetime]]:
    """Session id -> (starts_at, ends_at) of the sessions still stored, locked FOR NO KEY UPDATE in id order
    on PostgreSQL (one lock mode and one order for every batch, so two batches never wait in a circle; SQLite
    serialises writers)."""
    out: dict[int, tuple[dt.datetime, dt.datetime]] = {}
    for chunk in _chunks(sorted(ids)):
        stmt = select(ActivitySession.id, ActivitySession.starts_at, ActivitySession.ends_at).where(
            ActivitySession.tenant_id == tenant_id, ActivitySession.id.in_(chunk)).order_by(ActivitySession.id)
        if conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update(key_share=True)  # FOR NO KEY UPDATE
        out.update({i: (a, b) for i, a, b in conn.execute(stmt)})
    return out


def _not_stored(conn, tenant_id: int, ids: list[int]) -> set[int]:
    """Those of the session ids that are not stored (their insert was skipped)."""
    stored: set[int] = set()
    for chunk in _chunks(ids):
        stored |= set(conn.execute(select(ActivitySession.id).where(
            ActivitySession.tenant_id == tenant_id, ActivitySession.id.in_(chunk))).scalars())
    return set(ids) - stored


def _upsert_marks(conn, tenant_id: int, marks: list[tuple[int, dict]]) -> None:
    keys = [(sid, row["person_id"]) for sid, row in marks]
    existing = set()
    for chunk in _chunks(keys):
        existing |= set(conn.execute(select(Attendance.session_id, Attendance.person_id).where(
            Attendance.tenant_id == tenant_id,
            tuple_(Attendance.session_id, Attendance.person_id).in_(chunk))).all())
    tbl = Attendance.__table__
    upd = [r for sid, r in marks if (sid, r["person_id"]) in existing]
    new = [r for sid, r in marks if (sid, r["person_id"]) not in existing]
    if upd:
        conn.execute(update(tbl).where(and_(tbl.c.tenant_id == db.bindparam("b_t"),
                                            tbl.c.session_id == db.bindparam("b_s"),
                                            tbl.c.person_id == db.bindparam("b_p"))),
                     [{"role": r["role"], "present": r["present"], "disability": r["disability"],
                       "b_t": r["tenant_id"], "b_s": r["session_id"], "b_p": r["person_id"]} for r in upd])
    if new:
        conn.execute(insert(Attendance), new)


def _recount(conn, tenant_id: int, result: IntakeResult) -> None:
    """Fill the counts of updated sessions from the stored attendance."""
    ids = [o.session_id for o in result.accepted if o.action == "updated"]
    counts: dict[int, list[int]] = {}
    for chunk in _chunks(ids):
        for sid, role in conn.execute(select(Attendance.session_id, Attendance.role).where(
                Attendance.tenant_id == tenant_id, Attendance.session_id.in_(chunk), Attendance.present)):
            c = counts.setdefault(sid, [0, 0])
            c[0 if role == "participant" else 1] += 1
    for o in result.accepted:
        if o.action == "updated":
            o.participations, o.leader_participations = counts.get(o.session_id, [0, 0])


def _chunks(items: list, size: int = 900):
    for i in range(0, len(items), size):
        yield items[i:i + size]


__all__ = ["IntakeResult", "Outcome", "Refusal", "ingest", "register_after_persist", "session_times"]
