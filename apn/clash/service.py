"""Clash services: the intake hook, what reporters and officers see, resolving flags, full rescans."""

from __future__ import annotations

import datetime as dt
import re
import time

from sqlalchemy import and_, bindparam, or_, select

from apn.clash.detection import check_batch, retrying, sync_range
from apn.errors import DomainError, NotFound
from apn.extensions import db
from apn.models import ActivitySession, Association, AuditEntry, ClashFlag, GrantPeriod, Group, Person
from apn.models.base import utcnow
from apn.models.clash import RESOLUTIONS
from apn.tenancy import current_tenant_id, require_tenant_id, system_scope, tenant_scope

_flag = ClashFlag.__table__
_ses = ActivitySession.__table__

#: Kinds a reporter is never shown, neither at intake nor later: a clash in another municipality is seen only
#: by the officers of both municipalities, so that a reporter cannot probe where a person was elsewhere by
#: pushing sessions at chosen times (docs/clashes.md, "What the reporter is told").
HIDDEN_FROM_REPORTERS = ("other_municipality",)

#: Reporter-facing texts (English, Swedish). They never name another association, session or municipality.
MESSAGES = {
    ("person_overlap", "same"): (
        "This person is also present at another session of your association at the same time.",
        "Personen är samtidigt med på en annan sammankomst i er förening."),
    ("person_overlap", "other"): (
        "This person is registered at a session of another association at the same time.",
        "Personen är samtidigt registrerad på en annan förenings sammankomst."),
    ("leader_overlap", "same"): (
        "This leader also leads another session of your association at the same time.",
        "Ledaren leder samtidigt en annan sammankomst i er förening."),
    ("leader_overlap", "other"): (
        "This leader also leads a session of another association at the same time.",
        "Ledaren leder samtidigt en annan förenings sammankomst."),
    ("double_report", "same"): (
        "This session seems to be reported twice (same association, date and time, mostly the same people).",
        "Sammankomsten verkar vara rapporterad två gånger (samma förening, datum och tid, mest samma personer)."),
    ("listed_twice", "same"): (
        "The same person is listed twice in the session; counted once.",
        "Samma person står två gånger på sammankomsten; räknas en gång."),
}
_SWAP = {"this": "other", "other": "this", "both": "both", "neither": "neither", None: None}


# --- the intake hook -------------------------------------------------------------------------------------

def check_after_persist(tenant_id: int, affected: list[int], removed: list[int], result) -> None:
    """Registered with the intake: flag the clashes of a persisted batch and tell the reporter at once."""
    gone = set(removed)
    ids = sorted(set(affected) - gone)
    if not ids and not removed:
        return
    conn = db.session.connection()
    listed: dict[int, set[int]] = {}
    replaced: set[int] = set()
    for outcome in result.accepted:
        if outcome.session_id in gone:
            continue
        if outcome.action in ("created", "replaced"):
            replaced.add(outcome.session_id)
        for note in outcome.notes:
            if note.get("kind") == "listed_twice":
                listed.setdefault(outcome.session_id, set()).add(note["person_id"])

    with system_scope():
        retrying(conn, check_batch, conn, tenant_id, ids, sorted(gone), listed, replaced)
        views = _views(conn, tenant_id, ids) if ids else {}
    _add_notes(result, views)


def _add_notes(result, views: dict[int, list[dict]]) -> None:
    for outcome in result.accepted:
        for view in views.get(outcome.session_id, []):
            if view["kind"] == "listed_twice":
                for note in outcome.notes:
                    if note.get("kind") == "listed_twice" and note.get("person_id") == view.get("person_id"):
                        note.update(view)
                        break
                else:
                    outcome.notes.append(view)
            else:
                outcome.notes.append(view)


# --- what a reporter may see -----------------------------------------------------------------------------

def _reporter_view(row, perspective: int) -> dict:
    this_side = perspective == row.session_id
    other_sid = row.other_session_id if this_side else row.session_id
    if row.kind in ("listed_twice", "double_report"):
        same = "same"
    else:
        same = "same" if row.a_this == row.a_other else "other"
    en, sv = MESSAGES[(row.kind, same)]
    view = {"kind": row.kind, "flag_id": row.id, "status": row.status,
            "resolution": row.resolution if this_side else _SWAP[row.resolution],
            "session_id": perspective, "message": en, "message_sv": sv}
    if row.person_id is not None:
        view["person_id"] = row.person_id
    if other_sid is not None and same == "same":
        view["other_session_id"] = other_sid
    return view


def flags_for_sessions(tenant_id: int, session_ids: list[int]) -> dict[int, list[dict]]:
    """Flags on the given sessions as their reporter may see them: session id → list of notes.

    Another association's session is never identified; one's own association's is. A clash in another
    municipality is not shown at all (:data:`HIDDEN_FROM_REPORTERS`).
    """
    if not session_ids:
        return {}
    if current_tenant_id() == tenant_id:
        return _views(db.session.connection(), tenant_id, session_ids)
    with tenant_scope(tenant_id):
        return _views(db.session.connection(), tenant_id, session_ids)


def _views_statement():
    """The flags on some sessions of a tenant with both sessions' associations (built once, cached by
    SQLAlchemy's statement cache: the intake asks this after every batch)."""
    s, o = _ses.alias("s"), _ses.alias("o")
    ids = bindparam("ids", expanding=True)
    return (
        select(_flag.c.id, _flag.c.kind, _flag.c.status, _flag.c.resolution, _flag.c.session_id,
               _flag.c.other_session_id, _flag.c.person_id, s.c.association_id.label("a_this"),
               o.c.association_id.label("a_other"))
        .select_from(_flag.join(s, and_(s.c.tenant_id == _flag.c.tenant_id, s.c.id == _flag.c.session_id))
                     .outerjoin(o, and_(o.c.tenant_id == _flag.c.tenant_id, o.c.id == _flag.c.other_session_id)))
        .where(_flag.c.tenant_id == bindparam("t"), or_(_flag.c.session_id.in_(ids), _flag.c.other_session_id.in_(ids)),
               _flag.c.kind.not_in(HIDDEN_FROM_REPORTERS))
        .order_by(_flag.c.id)
    )


_VIEWS = _views_statement()


def _views(conn, tenant_id: int, session_ids: list[int]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    wanted = set(session_ids)
    ids = sorted(wanted)
    for i in range(0, len(ids), 900):
        for row in conn.execute(_VIEWS, {"t": tenant_id, "ids": ids[i:i + 900]}):
            for perspective in (row.session_id, row.other_session_id):
                if perspective in wanted:
                    out.setdefault(perspective, []).append(_reporter_view(row, perspective))
    return out


# --- what an officer sees --------------------------------------------------------------------------------

def _side(session: ActivitySession | None, names: dict) -> dict | None:
    if session is None:
        return None
    return {"session_id": session.id, "association_id": session.association_id,
            "association_name": names["assoc"].get(session.association_id), "group_id": session.group_id,
            "group_name": names["group"].get(session.group_id), "date": session.session_date.isoformat(),
            "start": session.start_time.strftime("%H:%M"), "stop": session.stop_time.strftime("%H:%M"),
            "stop_date": session.stop_date.isoformat() if session.stop_date else None,
            "channel": session.channel, "reported_at": session.reported_at.isoformat()}


def flags_for_officer(tenant_id: int, *, status: str | None = "open", kind: str | None = None,
                      starts_on: dt.date | None = None, ends_on: dt.date | None = None,
                      association_id: int | None = None, limit: int = 200, offset: int = 0) -> list[dict]:
    """Flags of the tenant with both sides (a clash in another municipality stays anonymous)."""
    with tenant_scope(tenant_id):
        q = select(ClashFlag).join(ActivitySession, and_(ActivitySession.tenant_id == ClashFlag.tenant_id,
                                                         ActivitySession.id == ClashFlag.session_id))
        if status:
            q = q.where(ClashFlag.status == status)
        if kind:
            q = q.where(ClashFlag.kind == kind)
        if starts_on:
            q = q.where(ActivitySession.session_date >= starts_on)
        if ends_on:
            q = q.where(ActivitySession.session_date <= ends_on)
        if association_id:
            other = select(ActivitySession.id).where(ActivitySession.association_id == association_id)
            q = q.where(or_(ActivitySession.association_id == association_id,
                            ClashFlag.other_session_id.in_(other)))
        flags = db.session.execute(q.order_by(ClashFlag.id).limit(limit).offset(offset)).scalars().all()
        sids = {f.session_id for f in flags} | {f.other_session_id for f in flags if f.other_session_id}
        sessions = {s.id: s for s in db.session.execute(
            select(ActivitySession).where(ActivitySession.id.in_(sids))).scalars()} if sids else {}
        pids = {f.person_id for f in flags if f.person_id}
        people = {p.id: p for p in db.session.execute(select(Person).where(Person.id.in_(pids))).scalars()} \
            if pids else {}
        names = {
            "assoc": dict(db.session.execute(select(Association.id, Association.name).where(
                Association.id.in_({s.association_id for s in sessions.values()}))).all()),
            "group": dict(db.session.execute(select(Group.id, Group.name).where(
                Group.id.in_({s.group_id for s in sessions.values()}))).all()),
        }
        out = []
        for f in flags:
            person = people.get(f.person_id)
            out.append({
                "id": f.id, "kind": f.kind, "status": f.status, "resolution": f.resolution, "reason": f.reason,
                "resolved_by_user_id": f.resolved_by_user_id,
                "resolved_at": f.resolved_at.isoformat() if f.resolved_at else None,
                "created_at": f.created_at.isoformat() if f.created_at else None,
                "person": {"id": person.id, "name": person.display_name,
                           "masked_identity": person.masked_identity} if person else None,
                "this": _side(sessions.get(f.session_id), names),
                "other": ({"municipality": "another municipality", "reported_first": f.other_first}
                          if f.other_tenant else _side(sessions.get(f.other_session_id), names)),
            })
        return out


# --- resolving -------------------------------------------------------------------------------------------

def resolve(flag_id: int, resolution: str, reason: str, user_id: int | None) -> ClashFlag:
    """An officer's decision on a flag of the bound tenant, recorded in the audit log. Flushes only.

    ``resolution`` says which side keeps the participation: ``this`` (the flag's session), ``other``,
    ``both`` or ``neither``. For a flag without a second session here (listed twice) only ``this`` or
    ``neither``; for a clash in another municipality ``this``/``both`` keep it here, ``other``/``neither``
    do not.
    """
    tenant_id = require_tenant_id()
    flag = ClashFlag.get_by_id(flag_id)
    if flag is None:
        raise NotFound(f"unknown clash flag {flag_id}", field="flag_id")
    allowed = ("this", "neither") if flag.kind == "listed_twice" else RESOLUTIONS
    if resolution not in allowed:
        raise DomainError(f"resolution must be one of {', '.join(allowed)}", field="resolution")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("give a reason for the decision", field="reason")
    if len(reason) > 2000:
        raise DomainError("the reason may be at most 2000 characters", field="reason")
    before = {"status": flag.status, "resolution": flag.resolution, "reason": flag.reason}
    flag.status, flag.resolution, flag.reason = "resolved", resolution, reason
    flag.resolved_by_user_id, flag.resolved_at = user_id, utcnow()
    db.session.add(AuditEntry(tenant_id=tenant_id, actor_user_id=user_id, action="clash.resolve",
                              entity="clash_flag", entity_id=str(flag.id), before=before,
                              after={"status": "resolved", "resolution": resolution, "reason": reason,
                                     "kind": flag.kind, "session_id": flag.session_id,
                                     "other_session_id": flag.other_session_id}))
    db.session.flush()
    return flag


# --- rescans ---------------------------------------------------------------------------------------------

_YEAR = re.compile(r"^(\d{4})$")
_HALF = re.compile(r"^(\d{4})H([12])$")


def period_range(tenant_id: int, period: str) -> tuple[dt.date, dt.date]:
    """Dates of a period: a grant period code of the tenant, a year ``2025`` or a half-year ``2025H1``."""
    period = (period or "").strip()
    with tenant_scope(tenant_id):
        row = db.session.execute(select(GrantPeriod.starts_on, GrantPeriod.ends_on).where(
            GrantPeriod.code == period)).first()
    if row:
        return row[0], row[1]
    if m := _YEAR.match(period):
        y = int(m[1])
        return dt.date(y, 1, 1), dt.date(y, 12, 31)
    if m := _HALF.match(period):
        y = int(m[1])
        return (dt.date(y, 1, 1), dt.date(y, 6, 30)) if m[2] == "1" else (dt.date(y, 7, 1), dt.date(y, 12, 31))
    raise DomainError("give a grant period code, a year (2025) or a half-year (2025H1)", field="period")


def rescan(tenant_id: int, period: str) -> dict:
    """Recompute every clash of the tenant's sessions in ``period`` with set-based SQL; fix the stored flags.

    Officers' resolutions survive for clashes that still exist. Listed-twice flags are left as they are
    (the stored attendance holds each person once). Flushes, never commits.
    """
    starts_on, ends_on = period_range(tenant_id, period)
    began = time.perf_counter()
    conn = db.session.connection()
    with system_scope():
        stats = retrying(conn, sync_range, conn, tenant_id, starts_on, ends_on)
    return {"period": period, "starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat(),
            "flags": stats.wanted, "created": stats.created, "removed": stats.removed,
            "seconds": round(time.perf_counter() - began, 3)}
