"""The rule engine: evaluate a period's sessions with the tenant's rule set valid for the period.

Set-based: three queries load the period's sessions, attendance and people as integer columns (binary
COPY on PostgreSQL), and every rule is applied to whole numpy arrays at once. Canonical sort orders
(sessions by start then id, attendance by session then person id) make the result independent of the
order rows were stored or returned. Money is integer öre; pot rates are exact fractions; each explanation
line is rounded once by the document's rounding rule (see ``docs/rules.md``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import numpy as np
from sqlalchemy import select

from apn.errors import DomainError, NotFound
from apn.extensions import db
from apn.models import Application, Association, GrantPeriod, RuleSet, Tenant
from apn.rules import messages as msg
from apn.rules import vocabulary as v
from apn.rules.messages import Reason
from apn.rules.registry import PluginLine, exclusion_sources, get_plugin
from apn.rules.schema import parse_document
from apn.tenancy import tenant_scope

EPOCH = dt.date(1970, 1, 1)

# Session reason bits.
S_TYPE, S_WINDOW, S_SHORT, S_NO_LEADER, S_FEW, S_ASSOC = 1, 2, 4, 8, 16, 32
# Row (attendance) reason codes.
R_COUNTED, R_ABSENT, R_EXCLUDED, R_NOT_ELIGIBLE, R_SESSION_REJECTED = 0, 1, 2, 3, 4
R_LEADER_CAP, R_SESSION_CAP, R_CAP, R_ASSOC, R_LEADER_PAID, R_LEADER_NOT_PAID = 5, 6, 7, 8, 9, 10
ROLE_NAMES = {0: "participant", 1: "leader", 2: "temporary_leader"}
TYPE_NAMES = {c: n for n, c in v.SESSION_TYPE_CODES.items()}


# --- results ----------------------------------------------------------------------------------------------

@dataclass
class Line:
    """One explanation line of an association's amount: clause, units, rate, amount."""

    clause: str
    description_sv: str
    description_en: str
    units: int
    rate_ore: Fraction | None
    amount_ore: int
    kind: str = "rate"  # rate | base | plugin | reduction

    def as_dict(self) -> dict:
        """JSON form; ``rate_ore`` is a decimal string (exact when whole öre, else 4 decimals)."""
        return {"clause": self.clause, "kind": self.kind, "description_sv": self.description_sv,
                "description_en": self.description_en, "units": self.units,
                "rate_ore": None if self.rate_ore is None else _fraction_text(self.rate_ore),
                "amount_ore": self.amount_ore}


@dataclass
class AssociationResult:
    """An association's totals for the period."""

    association_id: int
    organisationsnummer: str
    name: str
    disability_association: bool = False
    total_ore: int = 0
    lines: list[Line] = field(default_factory=list)
    sessions_valid: int = 0
    sessions_rejected: int = 0
    participations_counted: int = 0
    leader_participations_paid: int = 0
    eligible_participants: int = 0
    qualified: bool = True
    notes: list[Reason] = field(default_factory=list)

    def summary(self) -> dict:
        """The CLI/JSON summary row."""
        return {"organisationsnummer": self.organisationsnummer, "name": self.name, "total_ore": self.total_ore,
                "sessions_valid": self.sessions_valid, "sessions_rejected": self.sessions_rejected,
                "participations_counted": self.participations_counted}


@dataclass(frozen=True)
class SessionVerdict:
    """Accepted or rejected, and why."""

    session_id: int
    association_id: int
    session_date: dt.date
    start_time: str
    duration_minutes: int
    accepted: bool
    reasons: tuple[Reason, ...]
    eligible_participants: int
    leaders: int
    participations_counted: int
    leader_participations_paid: int

    def as_dict(self) -> dict:
        """JSON form."""
        return {"session_id": self.session_id, "association_id": self.association_id,
                "date": self.session_date.isoformat(), "start_time": self.start_time,
                "duration_minutes": self.duration_minutes, "accepted": self.accepted,
                "reasons": [r.as_dict() for r in self.reasons],
                "eligible_participants": self.eligible_participants, "leaders": self.leaders,
                "participations_counted": self.participations_counted,
                "leader_participations_paid": self.leader_participations_paid}


@dataclass(frozen=True)
class ParticipationVerdict:
    """One attendance row: counted (participants) or paid (leaders) or not, and why."""

    session_id: int
    person_id: int
    role: str
    counted: bool
    reason: Reason
    clause: str | None

    def as_dict(self) -> dict:
        """JSON form."""
        return {"session_id": self.session_id, "person_id": self.person_id, "role": self.role,
                "counted": self.counted, "reason": self.reason.as_dict(), "clause": self.clause}


@dataclass
class _Frame:
    """The arrays of one evaluation (sessions in chronological order, rows by session then person)."""

    s_id: np.ndarray
    s_assoc: np.ndarray
    s_day: np.ndarray
    s_start: np.ndarray
    s_dur: np.ndarray
    s_type: np.ndarray
    s_in: np.ndarray
    s_reasons: np.ndarray
    s_window: np.ndarray
    s_nelig: np.ndarray
    s_nlead: np.ndarray
    s_min_needed: np.ndarray
    r_s: np.ndarray
    r_pid: np.ndarray
    r_role: np.ndarray
    r_age: np.ndarray
    r_sex: np.ndarray
    r_reason: np.ndarray
    r_detail: np.ndarray
    r_rate: np.ndarray
    excluded: list[tuple[str, str, str]]


class Evaluation:
    """The result of :func:`evaluate`: totals per association plus verdicts on demand."""

    def __init__(self, *, tenant_id: int, tenant_slug: str, period: GrantPeriod, rule_set: RuleSet,
                 document: v.RuleDocument, associations: dict[int, AssociationResult], frame: _Frame,
                 estimate: bool) -> None:
        self.tenant_id = tenant_id
        self.tenant_slug = tenant_slug
        self.period_code = period.code
        self.starts_on = period.starts_on
        self.ends_on = period.ends_on
        self.period_status = period.status
        self.rule_set_id = rule_set.id
        self.rule_set_version = rule_set.version
        self.rule_set_name = rule_set.name
        self.document = document
        self.associations = associations
        self.estimate = estimate
        self._f = frame

    @property
    def total_ore(self) -> int:
        """Sum over the evaluated associations."""
        return sum(a.total_ore for a in self.associations.values())

    def summary(self) -> dict:
        """``{"tenant", "period", "total_ore", "associations": [...]}`` (the CLI's ``--json`` form)."""
        return {"tenant": self.tenant_slug, "period": self.period_code, "total_ore": self.total_ore,
                "associations": [a.summary() for a in self.associations.values()]}

    def _session_reasons(self, i: int) -> tuple[Reason, ...]:
        f, d = self._f, self.document
        bits = int(f.s_reasons[i])
        out: list[Reason] = []
        if bits & S_TYPE:
            out.append(msg.type_excluded(TYPE_NAMES[int(f.s_type[i])]))
        if bits & S_WINDOW:
            out.append(msg.time_window(d.session.excluded_windows[int(f.s_window[i])]))
        if bits & S_SHORT:
            out.append(msg.too_short(int(f.s_dur[i]), d.session.min_duration_minutes))
        if bits & S_NO_LEADER:
            out.append(msg.no_leader(int(f.s_nlead[i]), d.session.min_leaders, d.leaders))
        if bits & S_FEW:
            out.append(msg.too_few_participants(int(f.s_nelig[i]), int(f.s_min_needed[i])))
        if bits & S_ASSOC:
            a = self.associations.get(int(f.s_assoc[i]))
            out.extend(r for r in (a.notes if a else []) if r.code == "association_not_qualified")
        return tuple(out)

    def sessions(self, association_id: int | None = None, rejected_only: bool = False) -> list[SessionVerdict]:
        """Verdicts on the period's sessions (chronological), optionally of one association."""
        f = self._f
        sel = f.s_in.copy()
        if association_id is not None:
            sel &= f.s_assoc == association_id
        if rejected_only:
            sel &= f.s_reasons != 0
        idx = np.flatnonzero(sel)
        counted = np.bincount(f.r_s[f.r_reason == R_COUNTED], minlength=len(f.s_id))
        paid = np.bincount(f.r_s[f.r_reason == R_LEADER_PAID], minlength=len(f.s_id))
        out = []
        for i in idx.tolist():
            start = int(f.s_start[i])
            out.append(SessionVerdict(
                session_id=int(f.s_id[i]), association_id=int(f.s_assoc[i]),
                session_date=EPOCH + dt.timedelta(days=int(f.s_day[i])), start_time=f"{start // 60:02d}:{start % 60:02d}",
                duration_minutes=int(f.s_dur[i]), accepted=not f.s_reasons[i], reasons=self._session_reasons(i),
                eligible_participants=int(f.s_nelig[i]), leaders=int(f.s_nlead[i]),
                participations_counted=int(counted[i]), leader_participations_paid=int(paid[i])))
        return out

    def _row_reason(self, j: int) -> Reason:
        f, d = self._f, self.document
        code = int(f.r_reason[j])
        if code == R_COUNTED:
            return msg.COUNTED
        if code == R_ABSENT:
            return msg.ABSENT
        if code == R_EXCLUDED:
            return Reason(*f.excluded[int(f.r_detail[j])])
        if code == R_NOT_ELIGIBLE:
            return msg.not_eligible(int(f.r_age[j]), d.participants)
        if code == R_SESSION_REJECTED:
            return msg.SESSION_REJECTED
        if code == R_LEADER_CAP:
            return msg.leader_cap(d.session.max_counted_per_leader or 0, int(f.s_nlead[f.r_s[j]]))
        if code == R_SESSION_CAP:
            return msg.session_cap(d.session.max_counted_per_session or 0)
        if code == R_CAP:
            return msg.person_cap(d.caps[int(f.r_detail[j])])
        if code == R_ASSOC:
            a = self.associations.get(int(f.s_assoc[f.r_s[j]]))
            notes = [r for r in (a.notes if a else []) if r.code == "association_not_qualified"]
            return notes[0] if notes else msg.SESSION_REJECTED
        if code == R_LEADER_PAID:
            return msg.LEADER_PAID
        return msg.LEADER_NOT_PAID

    def participations(self, association_id: int | None = None, session_id: int | None = None,
                       ) -> list[ParticipationVerdict]:
        """Verdicts on the period's attendance rows, optionally of one association or session."""
        f = self._f
        sel = f.s_in[f.r_s]
        if association_id is not None:
            sel &= f.s_assoc[f.r_s] == association_id
        if session_id is not None:
            sel &= f.s_id[f.r_s] == session_id
        out = []
        for j in np.flatnonzero(sel).tolist():
            rate = int(f.r_rate[j])
            code = int(f.r_reason[j])
            out.append(ParticipationVerdict(
                session_id=int(f.s_id[f.r_s[j]]), person_id=int(f.r_pid[j]), role=ROLE_NAMES[int(f.r_role[j])],
                counted=code in (R_COUNTED, R_LEADER_PAID), reason=self._row_reason(j),
                clause=self.document.rates[rate].clause if rate >= 0 else None))
        return out

    def not_counted_summary(self, association_id: int) -> list[dict]:
        """Attendance rows of an association that did not count, grouped by reason code, with counts."""
        f = self._f
        sel = f.s_in[f.r_s] & (f.s_assoc[f.r_s] == association_id) & (f.r_reason != R_COUNTED) & \
            (f.r_reason != R_LEADER_PAID) & (f.r_reason != R_ABSENT) & (f.r_reason != R_LEADER_NOT_PAID)
        groups: dict[tuple[int, int], list[int]] = {}
        for j in np.flatnonzero(sel).tolist():
            key = (int(f.r_reason[j]), int(f.r_detail[j]) if f.r_reason[j] in (R_CAP, R_EXCLUDED) else -1)
            groups.setdefault(key, []).append(j)
        out = []
        for key in sorted(groups):
            rows = groups[key]
            reason = self._row_reason(rows[0])
            if key[0] == R_NOT_ELIGIBLE:
                reason = Reason("not_eligible", "Deltagaren uppfyller inte villkoren för stöd (ålder m.m.)",
                                "The participant does not meet the conditions (age etc.)")
            out.append({**reason.as_dict(), "count": len(rows)})
        return out


# --- helpers ----------------------------------------------------------------------------------------------

def _fraction_text(x: Fraction) -> str:
    if x.denominator == 1:
        return str(x.numerator)
    return str((Decimal(x.numerator) / Decimal(x.denominator)).quantize(Decimal("0.0001")))


def round_ore(x: Fraction, rule: str) -> int:
    """Round an exact amount to whole öre: ``floor`` (default) or ``half_up``."""
    if rule == "half_up":
        return int((Decimal(x.numerator) / Decimal(x.denominator)).quantize(Decimal(1), rounding=ROUND_HALF_UP)) \
            if x.denominator != 1 else x.numerator
    return x.numerator // x.denominator


def _ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Year and month*100+day of day numbers (days since 1970-01-01)."""
    d = days.astype("datetime64[D]")
    y = d.astype("datetime64[Y]")
    m = d.astype("datetime64[M]")
    year = y.astype(np.int64) + 1970
    month = (m - y.astype("datetime64[M]")).astype(np.int64) + 1
    day = (d - m.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month * 100 + day


def _rank_in_groups(*keys: np.ndarray) -> np.ndarray:
    """0-based position of each element within runs of equal keys (arrays already sorted by the keys)."""
    n = len(keys[0])
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for k in keys:
        change[1:] |= k[1:] != k[:-1]
    starts = np.flatnonzero(change)
    group = np.cumsum(change) - 1
    return np.arange(n, dtype=np.int64) - starts[group]


def _int_matrix(conn, sql: str, ncols: int) -> np.ndarray:
    """Run a query returning ``ncols`` non-null integer columns; an (n, ncols) int64 array."""
    raw = conn.connection.dbapi_connection
    if conn.dialect.name == "postgresql":
        buf = bytearray()
        with raw.cursor() as cur, cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT BINARY)") as copy:
            for chunk in copy:
                buf += chunk
        ext = int.from_bytes(buf[15:19], "big")
        start = 19 + ext
        row = np.dtype([("n", ">i2")] + [x for i in range(ncols) for x in ((f"l{i}", ">i4"), (f"v{i}", ">i8"))])
        count = (len(buf) - 2 - start) // row.itemsize
        rec = np.frombuffer(buf, dtype=row, offset=start, count=count)
        out = np.empty((count, ncols), dtype=np.int64)
        for i in range(ncols):
            if count and not (rec[f"l{i}"] == 8).all():
                raise RuntimeError("unexpected NULL or width in rule-engine query")
            out[:, i] = rec[f"v{i}"]
        return out
    cur = raw.cursor()
    try:
        cur.execute(sql)
        parts = []
        while True:
            rows = cur.fetchmany(200_000)
            if not rows:
                break
            parts.append(np.array(rows, dtype=np.int64).reshape(len(rows), ncols))
    finally:
        cur.close()
    return np.concatenate(parts) if parts else np.empty((0, ncols), dtype=np.int64)


def _sql_parts(dialect: str) -> dict[str, Any]:
    if dialect == "postgresql":
        return {"days": lambda c: f"CAST({c} - DATE '1970-01-01' AS BIGINT)",
                "minute": lambda c: f"CAST(EXTRACT(HOUR FROM {c}) * 60 + EXTRACT(MINUTE FROM {c}) AS BIGINT)",
                "int": lambda e: f"CAST({e} AS BIGINT)",
                "date": lambda d: f"DATE '{d.isoformat()}'"}
    return {"days": lambda c: f"CAST(julianday({c}) - 2440587.5 AS INTEGER)",
            "minute": lambda c: f"(CAST(substr({c}, 1, 2) AS INTEGER) * 60 + CAST(substr({c}, 4, 2) AS INTEGER))",
            "int": lambda e: f"CAST({e} AS INTEGER)",
            "date": lambda d: f"'{d.isoformat()}'"}


def _load(conn, tenant_id: int, first: dt.date, last: dt.date, association_id: int | None):
    """Sessions (id, assoc, day, start minute, duration, type), rows (session, person, flags), people."""
    q = _sql_parts(conn.dialect.name)
    t = int(tenant_id)
    where = (f"s.tenant_id = {t} AND s.session_date >= {q['date'](first)} AND s.session_date <= {q['date'](last)}"
             + (f" AND s.association_id = {int(association_id)}" if association_id is not None else ""))
    types = " ".join(f"WHEN '{n}' THEN {c}" for n, c in v.SESSION_TYPE_CODES.items())
    sessions = _int_matrix(conn, (
        f"SELECT {q['int']('s.id')}, {q['int']('s.association_id')}, {q['days']('s.session_date')}, "
        f"{q['minute']('s.start_time')}, {q['int']('s.duration_minutes')}, "
        f"{q['int'](f'CASE s.session_type {types} ELSE 3 END')} FROM activity_session s WHERE {where}"), 6)
    flags = ("CASE a.role WHEN 'participant' THEN 0 WHEN 'leader' THEN 1 ELSE 2 END"
             " + CASE WHEN a.present THEN 4 ELSE 0 END + CASE WHEN a.disability THEN 8 ELSE 0 END")
    join = (f"FROM attendance a JOIN activity_session s ON s.tenant_id = a.tenant_id AND s.id = a.session_id "
            f"WHERE a.tenant_id = {t} AND {where}")
    rows = _int_matrix(conn, f"SELECT {q['int']('a.session_id')}, {q['int']('a.person_id')}, {q['int'](flags)} {join}",
                       3)
    people = _int_matrix(conn, (
        f"SELECT {q['int']('p.id')}, {q['days']('p.birth_date')}, "
        f"{q['int']('CASE p.sex WHEN ' + chr(39) + 'F' + chr(39) + ' THEN 0 WHEN ' + chr(39) + 'M' + chr(39) + ' THEN 1 ELSE 2 END')} "
        f"FROM person p WHERE p.tenant_id = {t}"
        + (f" AND p.id IN (SELECT a.person_id {join})" if association_id is not None else "")), 3)
    return sessions, rows, people


def _cond_mask(c: v.Condition, ctx: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Rows (or sessions) for which condition ``c`` holds."""
    m = np.ones(n, dtype=bool)
    if c.age is not None:
        if c.age.min is not None:
            m &= ctx["age"] >= c.age.min
        if c.age.max is not None:
            m &= ctx["age"] <= c.age.max
    if c.sex is not None:
        m &= np.isin(ctx["sex"], [v.SEX_CODES[s] for s in c.sex])
    if c.disability is not None:
        m &= ctx["disability"] == c.disability
    if c.disability_association is not None:
        m &= ctx["dassoc"] == c.disability_association
    if c.role is not None:
        m &= np.isin(ctx["role"], [v.ROLE_CODES[r] for r in c.role])
    if c.session_types is not None:
        m &= np.isin(ctx["type"], [v.SESSION_TYPE_CODES[s] for s in c.session_types])
    if c.week_rank is not None:
        rank = ctx["week_rank"]
        if c.week_rank.min is not None:
            m &= rank >= c.week_rank.min
        if c.week_rank.max is not None:
            m &= rank <= c.week_rank.max
    return m


# --- rule sets --------------------------------------------------------------------------------------------

def get_period(tenant_id: int, period_code: str) -> GrantPeriod:
    """The tenant's period with this code, or :class:`NotFound`."""
    with tenant_scope(tenant_id):
        period = db.session.execute(select(GrantPeriod).where(GrantPeriod.tenant_id == tenant_id,
                                                              GrantPeriod.code == period_code)).scalar_one_or_none()
    if period is None:
        raise NotFound(f"no grant period {period_code!r} in this municipality", field="period")
    return period


def rule_set_for(tenant_id: int, day: dt.date) -> RuleSet:
    """The rule set valid on ``day`` (the highest version whose validity covers it)."""
    with tenant_scope(tenant_id):
        rs = db.session.execute(
            select(RuleSet).where(RuleSet.tenant_id == tenant_id, RuleSet.valid_from <= day,
                                  (RuleSet.valid_to.is_(None)) | (RuleSet.valid_to >= day))
            .order_by(RuleSet.version.desc())).scalars().first()
    if rs is None:
        raise DomainError(f"no rule set is valid on {day.isoformat()}; install one with "
                          "`flask rules install`", field="ruleset", status=409)
    return rs


# --- evaluation -------------------------------------------------------------------------------------------

def evaluate(tenant_id: int, period_code: str, association_id: int | None = None) -> Evaluation:
    """Evaluate a period for the whole tenant or one association with the rule set valid for the period.

    The rule set is the one valid on the period's first day. Deterministic and independent of input order.
    """
    tenant_id = int(tenant_id)
    with tenant_scope(tenant_id, db.session()):
        tenant = db.session.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFound("unknown municipality", field="tenant")
        period = get_period(tenant_id, period_code)
        rule_set = rule_set_for(tenant_id, period.starts_on)
        doc = parse_document(rule_set.document)
        conn = db.session.connection()
        # A pot's rate depends on every association's units, so a pot is always computed tenant-wide.
        load_assoc = None if doc.pot is not None else association_id
        assoc_q = select(Association.id, Association.organisationsnummer, Association.name,
                         Association.disability_association).where(Association.tenant_id == tenant_id)
        if load_assoc is not None:
            assoc_q = assoc_q.where(Association.id == int(load_assoc))
        assoc_rows = sorted(conn.execute(assoc_q).all(), key=lambda r: (r[1], r[0]))
        if association_id is not None and int(association_id) not in {int(r[0]) for r in assoc_rows}:
            raise NotFound("unknown association", field="association")
        first = period.starts_on
        pers = {c.per for c in doc.caps}
        if "week" in pers or any(r.when.week_rank is not None for r in doc.rates):
            first = min(first, period.starts_on - dt.timedelta(days=period.starts_on.weekday()))
        if "year" in pers:
            first = min(first, dt.date(period.starts_on.year, 1, 1))
        sessions, rows, people = _load(conn, tenant_id, first, period.ends_on, load_assoc)
        excluded = []
        for source in exclusion_sources():
            excluded.extend(source(conn, tenant_id, first, period.ends_on))
        apps = {}
        if doc.late.reductions or doc.late.cutoff_days:
            apps = dict(conn.execute(select(Application.association_id, Application.submitted_at).where(
                Application.tenant_id == tenant_id, Application.period_id == period.id,
                Application.submitted_at.is_not(None))).all())
    all_assoc = {int(r[0]): r for r in assoc_rows}
    frame, results = _compute(doc, period, sessions, rows, people, excluded, all_assoc, apps, load_assoc is None)
    if association_id is not None:
        results = {k: r for k, r in results.items() if k == int(association_id)}
    return Evaluation(tenant_id=tenant_id, tenant_slug=tenant.slug, period=period, rule_set=rule_set, document=doc,
                      associations=results, frame=frame, estimate=period.status != "closed")


def _compute(doc: v.RuleDocument, period: GrantPeriod, S: np.ndarray, A: np.ndarray, P: np.ndarray,
             excluded: list, assoc_rows: dict, apps: dict, tenant_wide: bool):
    """Apply the rules to the loaded arrays; returns the frame and the per-association results."""
    sr, lr, cr = doc.session, doc.leaders, doc.caps
    # Sessions in chronological order (start, then id).
    order = np.lexsort((S[:, 0], S[:, 2] * 1440 + S[:, 3]))
    S = S[order]
    s_id, s_assoc, s_day, s_start, s_dur, s_type = (S[:, i].copy() for i in range(6))
    ns = len(s_id)
    start_day = (period.starts_on - EPOCH).days
    end_day = (period.ends_on - EPOCH).days
    s_in = (s_day >= start_day) & (s_day <= end_day)
    by_id = np.argsort(s_id, kind="stable")
    # Rows in (session, person) order.
    r_s = by_id[np.searchsorted(s_id[by_id], A[:, 0])] if len(A) else np.zeros(0, dtype=np.int64)
    P = P[np.argsort(P[:, 0], kind="stable")]
    pi = np.searchsorted(P[:, 0], A[:, 1]) if len(A) else np.zeros(0, dtype=np.int64)
    n_people = max(len(P), 1)
    ro = np.argsort(r_s * n_people + pi)  # by session (chronological), then person id; keys are unique
    r_s = r_s[ro]
    pi = pi[ro]
    r_pid = A[ro, 1]
    flags = A[ro, 2]
    n = len(r_s)
    r_role = flags & 3
    present = (flags & 4) != 0
    r_dis = (flags & 8) != 0
    b_year, b_md = _ymd(P[:, 1])
    s_year, s_md = _ymd(s_day)
    age_year = s_year[r_s] - b_year[pi]
    age_exact = age_year - (s_md[r_s] < b_md[pi])
    p_age = age_year if doc.participants.age_basis == "year" else age_exact
    l_age = age_year if lr.age_basis == "year" else age_exact
    r_age = np.where(r_role == 0, p_age, l_age)
    r_sex = P[pi, 2] if n else np.zeros(0, dtype=np.int64)
    assoc_ids = np.array(sorted(set(assoc_rows) | set(np.unique(s_assoc).tolist())), dtype=np.int64)
    dassoc_of = np.array([bool(assoc_rows[a][3]) if a in assoc_rows else False for a in assoc_ids.tolist()])
    s_a = np.searchsorted(assoc_ids, s_assoc)
    s_dassoc = dassoc_of[s_a] if ns else np.zeros(0, dtype=bool)

    # Exclusions decided outside the rules (clash detection).
    r_reason = np.full(n, -1, dtype=np.int8)
    r_detail = np.full(n, -1, dtype=np.int32)
    excl_msgs: list[tuple[str, str, str]] = []
    if excluded and n:
        key = s_id[r_s] * (1 << 32) + r_pid
        korder = np.argsort(key)
        for sid, pid, code, sv, en in sorted(excluded, key=lambda e: (e[0], e[1], e[2])):
            k = int(sid) * (1 << 32) + int(pid)
            pos = np.searchsorted(key[korder], k)
            if pos < n and key[korder][pos] == k:
                j = korder[pos]
                if r_reason[j] == -1:
                    r_reason[j] = R_EXCLUDED
                    r_detail[j] = len(excl_msgs)
                    excl_msgs.append((str(code), str(sv), str(en)))
    present_ok = present & (r_reason != R_EXCLUDED)

    ctx = {"age": r_age, "sex": r_sex, "disability": r_dis, "dassoc": s_dassoc[r_s] if n else np.zeros(0, bool),
           "role": r_role, "type": s_type[r_s] if n else np.zeros(0, np.int64)}
    is_part = present_ok & (r_role == 0)
    if doc.participants.eligible:
        band = np.zeros(n, dtype=bool)
        for c in doc.participants.eligible:
            band |= _cond_mask(c, ctx, n)
    else:
        band = np.ones(n, dtype=bool)
    elig = is_part & band
    lead = present_ok & np.isin(r_role, [v.ROLE_CODES[r] for r in lr.roles])
    if lr.min_age is not None:
        lead &= r_age >= lr.min_age
    if lr.max_age is not None:
        lead &= r_age <= lr.max_age

    # Session validity.
    s_nelig = np.bincount(r_s[elig], minlength=ns)
    s_neligdis = np.bincount(r_s[elig & r_dis], minlength=ns)
    s_nlead = np.bincount(r_s[lead], minlength=ns)
    s_reasons = np.zeros(ns, dtype=np.int32)
    s_window = np.full(ns, -1, dtype=np.int16)
    if sr.excluded_types:
        s_reasons[np.isin(s_type, [v.SESSION_TYPE_CODES[t] for t in sr.excluded_types])] |= S_TYPE
    if sr.excluded_windows:
        wd = (s_day + 3) % 7 + 1
        wd_next = wd % 7 + 1
        end = s_start + s_dur
        for wi, w in reversed(list(enumerate(sr.excluded_windows))):
            hit = np.isin(wd, w.weekdays) & (s_start < w.end_minute) & (end > w.start_minute)
            hit |= np.isin(wd_next, w.weekdays) & (end > 1440) & (end - 1440 > w.start_minute)
            s_window[hit] = wi
        s_reasons[s_window >= 0] |= S_WINDOW
    s_reasons[s_dur < sr.min_duration_minutes] |= S_SHORT
    s_reasons[s_nlead < sr.min_leaders] |= S_NO_LEADER
    s_min_needed = np.full(ns, sr.min_participants, dtype=np.int64)
    if sr.min_participants_all_disabled is not None:
        all_dis = (s_nelig > 0) & (s_neligdis == s_nelig)
        s_min_needed[all_dis] = sr.min_participants_all_disabled
    s_reasons[s_nelig < s_min_needed] |= S_FEW
    s_valid = s_reasons == 0

    # Participant verdicts, in priority order.
    r_reason[(r_reason == -1) & ~present] = R_ABSENT
    part_open = (r_reason == -1) & (r_role == 0)
    r_reason[part_open & ~band] = R_NOT_ELIGIBLE
    r_reason[(r_reason == -1) & (r_role == 0) & ~s_valid[r_s]] = R_SESSION_REJECTED
    cand = np.flatnonzero((r_reason == -1) & (r_role == 0))
    # Per-session limits: the first participants by person id are kept.
    if sr.max_counted_per_leader is not None or sr.max_counted_per_session is not None:
        big = np.iinfo(np.int64).max
        lim_l = s_nlead * sr.max_counted_per_leader if sr.max_counted_per_leader is not None else np.full(ns, big)
        lim_s = np.full(ns, sr.max_counted_per_session if sr.max_counted_per_session is not None else big)
        rank = _rank_in_groups(r_s[cand])
        s_of = r_s[cand]
        over_l = rank >= lim_l[s_of]
        over_s = rank >= lim_s[s_of]
        r_reason[cand[over_s & (~over_l | (lim_s[s_of] <= lim_l[s_of]))]] = R_SESSION_CAP
        r_reason[cand[over_l & (r_reason[cand] == -1)]] = R_LEADER_CAP
        cand = cand[r_reason[cand] == -1]
    # Per-person caps within the association, shortest window first, earliest sessions first.
    windows = {"day": s_day, "week": s_day - (s_day + 3) % 7, "year": s_year}
    for ci, cap in sorted(enumerate(cr), key=lambda x: (v.CAP_WINDOWS.index(x[1].per), x[0])):
        sub = cand[_cond_mask(cap.when, {k: a[cand] for k, a in ctx.items()}, len(cand))]
        if not len(sub):
            continue
        w = windows[cap.per][r_s[sub]]
        w = w - w.min()
        # Group key (association, person, window); ``sub`` is chronological and the sort is stable.
        key = (s_a[r_s[sub]] * n_people + pi[sub]) * (int(w.max()) + 1) + w
        o = np.argsort(key, kind="stable")
        ranked = sub[o]
        rank = _rank_in_groups(key[o])
        over = ranked[rank >= cap.max]
        r_reason[over] = R_CAP
        r_detail[over] = ci
        cand = cand[r_reason[cand] == -1]
    r_reason[cand] = R_COUNTED
    counted = r_reason == R_COUNTED

    # Leaders: paid when a leader-participation rate matches in a valid session.
    r_rate = np.full(n, -1, dtype=np.int16)
    leaders_rows = (r_reason == -1) & (r_role != 0)
    r_reason[leaders_rows & ~s_valid[r_s]] = R_SESSION_REJECTED
    lcand = (r_reason == -1) & (r_role != 0)
    for i, rate in doc.rates_for("leader_participation"):
        m = lcand & (r_rate == -1) & _cond_mask(rate.when, ctx, n)
        r_rate[m] = i
    r_reason[lcand & (r_rate >= 0)] = R_LEADER_PAID
    r_reason[lcand & (r_rate < 0)] = R_LEADER_NOT_PAID

    # Participation rates (tiers by the rank of the counted participation in the person's ISO week).
    prates = doc.rates_for("participation")
    if prates:
        pctx = dict(ctx)
        if any(r.when.week_rank is not None for _, r in prates):
            idx = np.flatnonzero(counted)
            wk = windows["week"][r_s[idx]]
            wk = wk - (wk.min() if len(wk) else 0)
            key = (s_a[r_s[idx]] * n_people + pi[idx]) * (int(wk.max()) + 1 if len(wk) else 1) + wk
            o = np.argsort(key, kind="stable")
            week_rank = np.zeros(n, dtype=np.int64)
            week_rank[idx[o]] = _rank_in_groups(key[o]) + 1
            pctx["week_rank"] = week_rank
        for i, rate in prates:
            m = counted & (r_rate == -1) & _cond_mask(rate.when, pctx, n)
            r_rate[m] = i

    # Units per association and rate, in the period only.
    nr = max(len(doc.rates), 1)
    na = len(assoc_ids)
    units = np.zeros(na * nr, dtype=np.int64)
    rin = s_in[r_s]
    paid_rows = (r_rate >= 0) & rin
    if paid_rows.any():
        units += np.bincount(s_a[r_s[paid_rows]] * nr + r_rate[paid_rows], minlength=na * nr)
    s_rate = np.full(ns, -1, dtype=np.int16)
    sctx = {"dassoc": s_dassoc, "type": s_type}
    for i, rate in doc.rates_for("session"):
        m = s_valid & (s_rate == -1) & _cond_mask(rate.when, sctx, ns)
        s_rate[m] = i
    sm = s_in & (s_rate >= 0)
    if sm.any():
        units += np.bincount(s_a[sm] * nr + s_rate[sm], minlength=na * nr)
    x_rate = np.full(ns, -1, dtype=np.int16)
    extra_units = np.zeros(ns, dtype=np.int64)
    for i, rate in doc.rates_for("extra_leader"):
        m = s_valid & (x_rate == -1) & _cond_mask(rate.when, sctx, ns)
        x_rate[m] = i
        cap = rate.max_units_per_session if rate.max_units_per_session is not None else np.iinfo(np.int64).max
        extra_units[m] = np.minimum(np.maximum(s_nlead[m] - 1, 0), cap)
    xm = s_in & (x_rate >= 0) & (extra_units > 0)
    if xm.any():
        np.add.at(units, s_a[xm] * nr + x_rate[xm], extra_units[xm])
    units = units.reshape(na, nr)

    # Association qualification and counters.
    valid_in = s_valid & s_in
    sess_valid = np.bincount(s_a[valid_in], minlength=na)
    sess_total = np.bincount(s_a[s_in], minlength=na)
    er = elig & s_valid[r_s] & rin
    pairs = np.unique(s_a[r_s[er]] * (1 << 40) + r_pid[er])
    elig_people = np.bincount(pairs // (1 << 40), minlength=na) if len(pairs) else np.zeros(na, dtype=np.int64)
    cnt_counted = np.bincount(s_a[r_s[counted & rin]], minlength=na)
    cnt_paid = np.bincount(s_a[r_s[(r_reason == R_LEADER_PAID) & rin]], minlength=na)
    results: dict[int, AssociationResult] = {}
    for k, aid in enumerate(assoc_ids.tolist()):
        if aid not in assoc_rows:
            continue
        _, orgnr, name, dis = assoc_rows[aid]
        res = AssociationResult(aid, f"{orgnr[:6]}-{orgnr[6:]}", name, bool(dis),
                                sessions_valid=int(sess_valid[k]), sessions_rejected=int(sess_total[k] - sess_valid[k]),
                                participations_counted=int(cnt_counted[k]), leader_participations_paid=int(cnt_paid[k]),
                                eligible_participants=int(elig_people[k]))
        q = doc.association.qualification
        if dis and doc.association.qualification_disability_association is not None:
            q = doc.association.qualification_disability_association
        if res.sessions_valid < q.min_sessions or res.eligible_participants < q.min_participants:
            res.qualified = False
            res.notes.append(msg.association_not_qualified(q, res.sessions_valid, res.eligible_participants))
            units[k, :] = 0
            res.sessions_rejected += res.sessions_valid
            res.sessions_valid = 0
            res.participations_counted = 0
            res.leader_participations_paid = 0
        results[aid] = res
    not_q = np.array([aid in results and not results[aid].qualified for aid in assoc_ids.tolist()], dtype=bool)
    if not_q.any() and ns:
        sq = not_q[s_a] & s_in & s_valid
        s_reasons[sq] |= S_ASSOC
        rq = sq[r_s] & ((r_reason == R_COUNTED) | (r_reason == R_LEADER_PAID))
        r_reason[rq] = R_ASSOC

    # Rates in öre (pot rates from the tenant's total units of the period).
    rate_value: dict[int, Fraction] = {}
    for i, rate in enumerate(doc.rates):
        if rate.amount_ore is not None:
            rate_value[i] = Fraction(rate.amount_ore)
        else:
            total = int(units[:, i].sum()) if tenant_wide else 0
            pot = doc.pot.for_period(period.code) if doc.pot else 0
            share = Fraction(rate.pot_share) * pot / 100
            rate_value[i] = share / total if total else Fraction(0)

    counted_ctx = {"r_assoc": s_assoc[r_s], "r_sex": r_sex, "r_age": r_age, "counted": (r_reason == R_COUNTED) & rin}
    plugin_lines: dict[int, list[PluginLine]] = {}
    for use in doc.plugins:
        for line in get_plugin(use.name)(PluginContext(doc, period, results, counted_ctx), use.params):
            plugin_lines.setdefault(line.association_id, []).append(line)

    for k, aid in enumerate(assoc_ids.tolist()):
        res = results.get(aid)
        if res is None:
            continue
        for i, rate in enumerate(doc.rates):
            u = int(units[k, i])
            if u <= 0:
                continue
            sv, en = msg.rate_description(rate)
            res.lines.append(Line(rate.clause, sv, en, u, rate_value[i], round_ore(u * rate_value[i], doc.rounding)))
        if res.qualified and res.sessions_valid > 0 and doc.association.base_amount_ore:
            res.lines.append(Line("base", "Grundbelopp per förening", "Base amount per association", 1,
                                  Fraction(doc.association.base_amount_ore), doc.association.base_amount_ore, "base"))
        if res.qualified:
            for pl in plugin_lines.get(aid, []):
                res.lines.append(Line(pl.clause, pl.description_sv, pl.description_en, pl.units, None,
                                      max(int(pl.amount_ore), 0), "plugin"))
        subtotal = sum(ln.amount_ore for ln in res.lines)
        submitted = apps.get(aid)
        if submitted is not None and subtotal > 0:
            days_late = (_local_date(submitted) - period.deadline).days
            cutoff = doc.late.cutoff_days is not None and days_late >= doc.late.cutoff_days
            pct = 100 if cutoff else max([r.percent for r in doc.late.reductions if days_late >= r.days_late],
                                         default=0)
            if pct:
                cut = round_ore(Fraction(subtotal * pct, 100), doc.rounding)
                sv, en = msg.late(days_late, pct, cutoff)
                res.lines.append(Line("late", sv, en, pct, None, -cut, "reduction"))
        res.total_ore = sum(ln.amount_ore for ln in res.lines)

    frame = _Frame(s_id=s_id, s_assoc=s_assoc, s_day=s_day, s_start=s_start, s_dur=s_dur, s_type=s_type, s_in=s_in,
                   s_reasons=s_reasons, s_window=s_window, s_nelig=s_nelig, s_nlead=s_nlead, s_min_needed=s_min_needed,
                   r_s=r_s, r_pid=r_pid, r_role=r_role, r_age=r_age, r_sex=r_sex, r_reason=r_reason,
                   r_detail=r_detail, r_rate=r_rate, excluded=excl_msgs)
    return frame, results


def _local_date(ts: dt.datetime) -> dt.date:
    """The Swedish calendar date of a timestamp (UTC assumed when naive)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    try:
        from zoneinfo import ZoneInfo

        return ts.astimezone(ZoneInfo("Europe/Stockholm")).date()
    except Exception:  # noqa: BLE001 - no time-zone database: fall back to UTC
        return ts.astimezone(dt.UTC).date()


@dataclass
class PluginContext:
    """What a plugin sees: the document, the period, the results so far and the counted rows' arrays.

    ``rows`` holds numpy arrays over attendance rows: ``r_assoc`` (association id), ``r_sex`` (0 F, 1 M,
    2 X), ``r_age`` and ``counted`` (a counted participation of the period).
    """

    document: v.RuleDocument
    period: GrantPeriod
    associations: dict[int, AssociationResult]
    rows: dict[str, np.ndarray]
