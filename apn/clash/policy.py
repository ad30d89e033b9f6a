"""Per-tenant clash policy and what it means for the grant: which participations do not count.

The policy lives in ``Tenant.settings["clash_policy"]``::

    {"blocking_kinds": ["person_overlap", "double_report", "leader_overlap", "other_municipality"],
     "keep": "first_reported"}

``blocking_kinds``: open flags of these kinds stop a participation from counting. ``keep``: which side
keeps it while the flag is open: ``first_reported`` (the session reported first keeps it, the later one
loses it) or ``officer_decides`` (neither side counts until an officer resolves the flag). A resolved
flag applies the officer's choice whatever the policy says (``this``/``other``/``both``/``neither`` keep
the participation). :func:`excluded_participations` is what the rule engine asks.

Inside :func:`reporter_preview` (what a leader, an association or a partner is shown: the leader's verdict,
the expected grant) an *open* flag of another municipality excludes nothing, so that the preview gives no
signal of where a person was in another municipality; officers' evaluations and decisions apply it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import and_, or_, select

from apn.errors import DomainError, NotFound
from apn.extensions import db
from apn.models import ActivitySession, Attendance, AuditEntry, ClashFlag, Tenant
from apn.models.clash import CLASH_KINDS
from apn.tenancy import tenant_scope

KEEP_CHOICES = ("first_reported", "officer_decides")
DEFAULT_POLICY: dict = {
    "blocking_kinds": ["person_overlap", "double_report", "leader_overlap", "other_municipality"],
    "keep": "first_reported",
}

#: Set by :func:`reporter_preview`: the evaluation is shown to a reporter.
_REPORTER_PREVIEW: ContextVar[bool] = ContextVar("apn_clash_reporter_preview", default=False)


@contextmanager
def reporter_preview() -> Iterator[None]:
    """Evaluate for a reporter: open clashes in another municipality do not exclude anything inside."""
    token = _REPORTER_PREVIEW.set(True)
    try:
        yield
    finally:
        _REPORTER_PREVIEW.reset(token)


_WHAT = {
    "person_overlap": ("Personen var samtidigt med på en annan sammankomst (krock).",
                       "The person was at another session at the same time (clash)."),
    "leader_overlap": ("Ledaren ledde samtidigt en annan sammankomst (krock).",
                       "The leader led another session at the same time (clash)."),
    "double_report": ("Sammankomsten är rapporterad två gånger (dubbelrapportering).",
                      "The session was reported twice (double report)."),
    "listed_twice": ("Personen stod två gånger på samma sammankomst.",
                     "The person was listed twice in the session."),
    "other_municipality": ("Personen var samtidigt med på en aktivitet i en annan kommun (krock).",
                           "The person was at an activity in another municipality at the same time (clash)."),
}
_WHY = {
    "first_reported": (" Den sammankomst som rapporterades först räknas.", " The session reported first counts."),
    "officer_decides": (" Räknas inte förrän en handläggare har beslutat.",
                        " Not counted until a grant officer has decided."),
    "resolved": (" En handläggare har beslutat att den inte räknas här.",
                 " A grant officer decided that it does not count here."),
}


def normalise_policy(raw: dict | None) -> dict:
    """The policy with defaults filled in; raises :class:`DomainError` for unknown values."""
    raw = raw or {}
    kinds = raw.get("blocking_kinds", DEFAULT_POLICY["blocking_kinds"])
    if not isinstance(kinds, list | tuple) or any(k not in CLASH_KINDS for k in kinds):
        raise DomainError(f"blocking_kinds must be a list of {', '.join(CLASH_KINDS)}", field="blocking_kinds")
    keep = raw.get("keep", DEFAULT_POLICY["keep"])
    if keep not in KEEP_CHOICES:
        raise DomainError(f"keep must be one of {', '.join(KEEP_CHOICES)}", field="keep")
    return {"blocking_kinds": [k for k in CLASH_KINDS if k in kinds], "keep": keep}


def _tenant(tenant_id: int) -> Tenant:
    tenant = db.session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("unknown municipality", field="tenant")
    return tenant


def get_policy(tenant_id: int) -> dict:
    """The tenant's clash policy (defaults where it sets nothing)."""
    return normalise_policy((_tenant(tenant_id).settings or {}).get("clash_policy"))


def set_policy(tenant_id: int, policy: dict, user_id: int | None = None) -> dict:
    """Store a new clash policy (validated), recorded in the audit log. Flushes, never commits."""
    tenant = _tenant(tenant_id)
    before = get_policy(tenant_id)
    after = normalise_policy({**before, **policy})
    tenant.settings = {**(tenant.settings or {}), "clash_policy": after}
    with tenant_scope(tenant_id):
        db.session.add(AuditEntry(tenant_id=tenant_id, actor_user_id=user_id, action="clash.policy",
                                  entity="tenant", entity_id=str(tenant_id), before=before, after=after))
        db.session.flush()
    return after


def _later(a_at, a_id, b_at, b_id) -> str:
    """Which side was reported later: ``this`` or ``other`` (ties by id)."""
    return "this" if (a_at, a_id) > (b_at, b_id) else "other"


def _excluded_sides(flag, policy: dict) -> tuple[list[str], str]:
    """Sides (``this``/``other``) whose participation does not count, and why."""
    kind, status, resolution = flag.kind, flag.status, flag.resolution
    if status == "resolved":
        sides = {"this": ["other"], "other": ["this"], "both": [], "neither": ["this", "other"]}.get(resolution, [])
        return sides, "resolved"
    if kind not in policy["blocking_kinds"]:
        return [], ""
    if policy["keep"] == "officer_decides":
        return ["this", "other"], "officer_decides"
    if kind == "listed_twice":
        return [], ""
    if kind == "other_municipality":
        return (["this"] if flag.other_first else []), "first_reported"
    return [_later(flag.s_at, flag.session_id, flag.o_at, flag.other_session_id)], "first_reported"


def excluded_participations(conn, tenant_id: int, starts_on: dt.date, ends_on: dt.date) -> list[tuple]:
    """Participations that do not count because of clashes, for sessions dated in ``[starts_on, ends_on]``.

    Rows ``(session_id, person_id, reason_code, message_sv, message_en)``; a double-reported session that
    does not count gives one row per person present. The plug point for the rule engine
    (``apn.rules.register_exclusion``).
    """
    policy = normalise_policy((conn.execute(select(Tenant.settings).where(Tenant.id == tenant_id)).scalar() or {})
                              .get("clash_policy"))
    f = ClashFlag.__table__
    s, o = ActivitySession.__table__.alias("s"), ActivitySession.__table__.alias("o")
    rows = conn.execute(
        select(f.c.id, f.c.kind, f.c.status, f.c.resolution, f.c.session_id, f.c.other_session_id, f.c.person_id,
               f.c.other_first, s.c.reported_at.label("s_at"), s.c.session_date.label("s_date"),
               o.c.reported_at.label("o_at"), o.c.session_date.label("o_date"))
        .select_from(f.join(s, and_(s.c.tenant_id == f.c.tenant_id, s.c.id == f.c.session_id))
                     .outerjoin(o, and_(o.c.tenant_id == f.c.tenant_id, o.c.id == f.c.other_session_id)))
        .where(f.c.tenant_id == tenant_id, or_(s.c.session_date.between(starts_on, ends_on),
                                               o.c.session_date.between(starts_on, ends_on)))
        .order_by(f.c.id)
    ).all()
    out: dict[tuple[int, int | None], tuple] = {}
    preview = _REPORTER_PREVIEW.get()
    for flag in rows:
        if preview and flag.kind == "other_municipality" and flag.status == "open":
            continue  # not shown to reporters: the officer's review tells the association
        sides, why = _excluded_sides(flag, policy)
        for side in sides:
            sid, day = (flag.session_id, flag.s_date) if side == "this" else (flag.other_session_id, flag.o_date)
            if sid is None or not (starts_on <= day <= ends_on):
                continue
            person = flag.person_id
            sv, en = _WHAT[flag.kind]
            msg = (sv + _WHY[why][0], en + _WHY[why][1])
            out.setdefault((sid, person), (f"clash_{flag.kind}", *msg))
    whole = sorted({sid for sid, person in out if person is None})
    result = [(sid, person, *why) for (sid, person), why in out.items() if person is not None]
    for sid, person in _present(conn, tenant_id, whole):
        if (sid, person) not in out:
            result.append((sid, person, *out[(sid, None)]))
    result.sort(key=lambda r: (r[0], r[1]))
    return result


def _present(conn, tenant_id: int, ids: list[int]) -> Iterable[tuple[int, int]]:
    a = Attendance.__table__
    for i in range(0, len(ids), 900):
        yield from conn.execute(select(a.c.session_id, a.c.person_id).where(
            a.c.tenant_id == tenant_id, a.c.session_id.in_(ids[i:i + 900]), a.c.present)).all()
