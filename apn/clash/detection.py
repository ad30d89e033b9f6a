"""Finding clashes with set-based SQL: for one intake batch (indexed) and for a whole period (rescan).

Two sessions overlap when ``a.starts_at < b.ends_at AND b.starts_at < a.ends_at`` (half-open ranges: a
session that ends exactly when the other starts is no clash; ``starts_at``/``ends_at`` already carry the
stop date of sessions that cross midnight). What is flagged:

* ``person_overlap``: one person present in two overlapping sessions of the tenant;
* ``leader_overlap``: the same, when the person leads (``leader``/``temporary_leader``) both sessions;
* ``double_report``: two overlapping sessions of one association on one date whose present people are
  mostly the same (Jaccard index |A∩B| / |A∪B| ≥ 0.6); such a pair gets this one flag instead of one
  overlap flag per person;
* ``listed_twice``: a person listed twice in one reported session (found by the intake, persisted here);
* ``other_municipality``: one person (same keyed hash of the personal number) present in overlapping
  sessions of two tenants; each tenant holds its own flag, which names nothing of the other one.

At intake (:func:`check_batch`) the overlap check goes from the batch's attendance to the same people's
other attendance by index and time, never scanning the tenant. A rescan (:func:`sync_range`) makes one
window-function pass over the period (the participations that overlap another one of the same person),
then pairs those up in one linear sweep.

Concurrency: before looking, the check takes PostgreSQL advisory transaction locks on the people of the
batch (hashed into :data:`LOCK_BUCKETS` buckets; people with a personal number by its keyed hash, so the
lock also covers other municipalities). A second transaction reporting the same person waits until the
first commits and then, under READ COMMITTED, sees its session. Races with a concurrent deletion
(foreign-key error) or a deadlock are retried from a savepoint.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import logging
from dataclasses import dataclass
from itertools import zip_longest

from flask import current_app
from sqlalchemy import DateTime, and_, bindparam, delete, func, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from apn.intake.service import MAX_SESSION_HOURS
from apn.models import ActivitySession, Attendance, ClashFlag, allocate_ids
from apn.models.base import utcnow

logger = logging.getLogger(__name__)

LEADING_ROLES = frozenset({"leader", "temporary_leader"})
#: A double report: |common present people| * DEN >= |people present in either| * NUM, i.e. Jaccard ≥ 0.6.
DOUBLE_REPORT_NUM, DOUBLE_REPORT_DEN = 3, 5
LOCK_NAMESPACE = 0x61706E  # "apn"
LOCK_BUCKETS = 4096  # a power of two: buckets are taken with a bit mask
RETRIES = 3
#: SQLSTATEs retried from the savepoint: foreign-key violation, deadlock, serialization failure.
RETRY_STATES = frozenset({"23503", "40P01", "40001"})
DAY = dt.timedelta(days=1)
#: Memory for the rescan's sorts (PostgreSQL ``work_mem``, for that one statement of that transaction).
SCAN_WORK_MEM = "256MB"

_att = Attendance.__table__
_ses = ActivitySession.__table__
_flag = ClashFlag.__table__


class Wanted:
    """A flag that should exist; ``key`` is its identity within its tenant (``clash_key``)."""

    __slots__ = ("tenant_id", "kind", "session_id", "other_session_id", "person_id", "other_ref", "other_first",
                 "key")

    def __init__(self, tenant_id: int, kind: str, session_id: int, other_session_id: int | None = None,
                 person_id: int | None = None, other_ref: str | None = None, other_first: bool | None = None):
        self.tenant_id, self.kind, self.session_id = tenant_id, kind, session_id
        self.other_session_id, self.person_id = other_session_id, person_id
        self.other_ref, self.other_first = other_ref, other_first
        self.key = f"{kind}:{session_id}:{other_session_id or ''}:{person_id or ''}:{other_ref or ''}"

    def row(self, id_: int, now: dt.datetime) -> dict:
        """Column values for an insert."""
        return {"tenant_id": self.tenant_id, "id": id_, "kind": self.kind, "session_id": self.session_id,
                "other_session_id": self.other_session_id, "other_tenant": self.kind == "other_municipality",
                "person_id": self.person_id, "status": "open", "clash_key": self.key, "other_ref": self.other_ref,
                "other_first": self.other_first, "created_at": now}


@dataclass
class SyncStats:
    """What a check changed."""

    wanted: int = 0
    created: int = 0
    removed: int = 0


@functools.lru_cache(maxsize=4)
def _ref_base(key: str):
    return hmac.new(key.encode(), b"clash-session:", hashlib.sha256)


def session_refs(tenant_id: int):
    """A function from a session id of ``tenant_id`` to its :func:`session_ref` (one key lookup for many)."""
    base = _ref_base(current_app.config["PNR_HASH_KEY"])
    prefix = f"{tenant_id}:"

    def ref(session_id: int) -> str:
        h = base.copy()
        h.update(f"{prefix}{session_id}".encode())
        return h.hexdigest()
    return ref


def session_ref(tenant_id: int, session_id: int) -> str:
    """Opaque keyed reference to a session, stored in another municipality's flag instead of its ids.

    HMAC-SHA256 with the installation's ``PNR_HASH_KEY`` of ``clash-session:<tenant>:<session>``.
    """
    return session_refs(tenant_id)(session_id)


def _chunks(conn, items: list):
    size = 10000 if conn.dialect.name == "postgresql" else 900
    for i in range(0, len(items), size):
        yield items[i:i + size]


# --- finding, at intake: by index from the batch's people -----------------------------------------------

def _since(dialect: str, column: str) -> str:
    """SQL for ``column`` minus the longest a session may last: a lower bound on the start of any session
    that still runs at ``column`` (the intake refuses longer sessions)."""
    if dialect == "postgresql":
        return f"{column} - INTERVAL '{MAX_SESSION_HOURS} hours'"
    return f"datetime({column}, '-{MAX_SESSION_HOURS} hours')"


#: From each new attendance to the same person's other present attendances that overlap it, read by time
#: from ``ix_attendance_span`` (only those starting within a day before the new session's end), then those
#: sessions by primary key: never a scan of the tenant, nor of the person's whole history. ``CROSS JOIN``
#: fixes this join order on SQLite; PostgreSQL gets the LATERAL form below (:data:`_PAIRS_PG`).
_PAIRS_SQL = """
SELECT n.session_id, o.session_id, n.person_id, n.role, o.role, ns.association_id, os.association_id,
       ns.session_date, os.session_date
FROM attendance AS n
CROSS JOIN attendance AS o
CROSS JOIN activity_session AS ns
CROSS JOIN activity_session AS os
WHERE n.tenant_id = :t AND n.session_id IN :ids AND n.present
  AND o.tenant_id = n.tenant_id AND o.person_id = n.person_id
  AND o.starts_at > {since} AND o.starts_at < n.ends_at AND o.ends_at > n.starts_at
  AND o.session_id <> n.session_id AND o.present
  AND ns.tenant_id = n.tenant_id AND ns.id = n.session_id
  AND os.tenant_id = o.tenant_id AND os.id = o.session_id
"""

#: The same for other tenants, by the keyed hash of the personal number (``ix_person_pnr_hash``). Runs in
#: system scope and returns only ids and an order, never names.
_CROSS_SQL = """
SELECT n.session_id, n.person_id, o.tenant_id, o.session_id, op.id,
       CASE WHEN os.reported_at < ns.reported_at OR (os.reported_at = ns.reported_at AND o.tenant_id < :t)
            THEN 1 ELSE 0 END
FROM attendance AS n CROSS JOIN person AS np CROSS JOIN person AS op CROSS JOIN attendance AS o
     CROSS JOIN activity_session AS ns CROSS JOIN activity_session AS os
WHERE n.tenant_id = :t AND n.session_id IN :ids AND n.present
  AND np.tenant_id = n.tenant_id AND np.id = n.person_id AND np.pnr_hash IS NOT NULL
  AND op.pnr_hash = np.pnr_hash AND op.tenant_id <> np.tenant_id
  AND o.tenant_id = op.tenant_id AND o.person_id = op.id AND o.present
  AND o.starts_at > {since} AND o.starts_at < n.ends_at AND o.ends_at > n.starts_at
  AND ns.tenant_id = n.tenant_id AND ns.id = n.session_id
  AND os.tenant_id = o.tenant_id AND os.id = o.session_id
"""


#: PostgreSQL forms of the two statements. ``join_collapse_limit`` keeps explicit joins in their order but
#: still lets the planner swap the two sides of each join, and under the row-level-security policy it
#: misjudges every table: on small or fresh tables it has driven from all sessions of the tenant, about
#: 2 s for a 100-session batch. ``LATERAL`` subqueries fenced with ``OFFSET 0`` leave it no choice: for
#: each attendance of the batch, its person's overlapping attendances by index, then the two sessions by
#: primary key.
_PAIRS_PG = """
SELECT n.session_id, o.session_id, n.person_id, n.role, o.role, ns.association_id, os.association_id,
       ns.session_date, os.session_date
FROM (SELECT tenant_id, session_id, person_id, role, starts_at, ends_at FROM attendance
      WHERE tenant_id = :t AND session_id IN :ids AND present OFFSET 0) AS n
CROSS JOIN LATERAL (
  SELECT a.session_id, a.role FROM attendance AS a
  WHERE a.tenant_id = n.tenant_id AND a.person_id = n.person_id
    AND a.starts_at > {since} AND a.starts_at < n.ends_at AND a.ends_at > n.starts_at
    AND a.session_id <> n.session_id AND a.present
  OFFSET 0) AS o
CROSS JOIN LATERAL (
  SELECT s.association_id, s.session_date FROM activity_session AS s
  WHERE s.tenant_id = n.tenant_id AND s.id = n.session_id OFFSET 0) AS ns
CROSS JOIN LATERAL (
  SELECT s.association_id, s.session_date FROM activity_session AS s
  WHERE s.tenant_id = n.tenant_id AND s.id = o.session_id OFFSET 0) AS os
"""

_CROSS_PG = """
SELECT n.session_id, n.person_id, o.tenant_id, o.session_id, o.person_id,
       CASE WHEN os.reported_at < ns.reported_at OR (os.reported_at = ns.reported_at AND o.tenant_id < :t)
            THEN 1 ELSE 0 END
FROM (SELECT a.session_id, a.person_id, a.starts_at, a.ends_at, p.pnr_hash
      FROM attendance AS a CROSS JOIN LATERAL (
        SELECT pnr_hash FROM person WHERE tenant_id = a.tenant_id AND id = a.person_id AND pnr_hash IS NOT NULL
        OFFSET 0) AS p
      WHERE a.tenant_id = :t AND a.session_id IN :ids AND a.present OFFSET 0) AS n
CROSS JOIN LATERAL (
  SELECT op.tenant_id, op.id FROM person AS op WHERE op.pnr_hash = n.pnr_hash AND op.tenant_id <> :t
  OFFSET 0) AS op
CROSS JOIN LATERAL (
  SELECT a.tenant_id, a.session_id, a.person_id FROM attendance AS a
  WHERE a.tenant_id = op.tenant_id AND a.person_id = op.id AND a.present
    AND a.starts_at > {since} AND a.starts_at < n.ends_at AND a.ends_at > n.starts_at
  OFFSET 0) AS o
CROSS JOIN LATERAL (
  SELECT reported_at FROM activity_session WHERE tenant_id = :t AND id = n.session_id OFFSET 0) AS ns
CROSS JOIN LATERAL (
  SELECT reported_at FROM activity_session WHERE tenant_id = o.tenant_id AND id = o.session_id OFFSET 0) AS os
"""


@functools.lru_cache(maxsize=8)
def _for_ids(kind: str, dialect: str):
    """The pairs (``kind`` "pairs") or cross-municipality ("cross") statement for the dialect."""
    pg = dialect == "postgresql"
    template = {"pairs": _PAIRS_PG if pg else _PAIRS_SQL, "cross": _CROSS_PG if pg else _CROSS_SQL}[kind]
    return text(template.format(since=_since(dialect, "n.starts_at"))).bindparams(
        bindparam("ids", expanding=True))


#: Everything stored about the batch's sessions: this tenant's flags on them and other tenants' flags
#: that refer to them.
_EXISTING_FOR_IDS = text("""
SELECT tenant_id, id, clash_key, kind, session_id FROM clash_flag
WHERE (tenant_id = :t AND (session_id IN :ids OR other_session_id IN :ids))
   OR (other_ref IN :refs AND kind = 'other_municipality' AND tenant_id <> :t)
""").bindparams(bindparam("ids", expanding=True), bindparam("refs", expanding=True))


def _pairs_for_ids(conn, tid: int, ids: list[int]) -> tuple[list[tuple], list[tuple]]:
    """(in-tenant overlapping attendance pairs, cross-tenant ones) of the given sessions.

    The statements fix their own join order (``CROSS JOIN`` on SQLite, fenced ``LATERAL`` on PostgreSQL),
    so no planner setting is needed around them."""
    pairs: list[tuple] = []
    cross: list[tuple] = []
    dialect = conn.dialect.name
    for chunk in _chunks(conn, ids):
        params = {"t": tid, "ids": chunk}
        pairs.extend(conn.execute(_for_ids("pairs", dialect), params).all())
        cross.extend(tuple(r) for r in conn.execute(_for_ids("cross", dialect), params).all())
    return pairs, cross


# --- finding, for a period: one window pass ----------------------------------------------------------------

#: The present participations of the tenant that start in ``[lo, hi)``, plus other tenants' participations
#: of people with the same personal-number hash (keyed by this tenant's person id), by their own times
#: (``ix_attendance_span``). The window keeps the participations that overlap an earlier or a later one of
#: the same person; only those are joined to their sessions and leave the database.
_SCAN = text("""
WITH p AS (
  SELECT a.person_id AS who, a.tenant_id, a.person_id, a.session_id, a.role, a.starts_at, a.ends_at
  FROM attendance a
  WHERE a.tenant_id = :t AND a.starts_at >= :lo AND a.starts_at < :hi AND a.present
  UNION ALL
  SELECT np.id, o.tenant_id, o.person_id, o.session_id, o.role, o.starts_at, o.ends_at
  FROM person np CROSS JOIN person op CROSS JOIN attendance o
  WHERE np.tenant_id = :t AND np.pnr_hash IS NOT NULL
    AND op.pnr_hash = np.pnr_hash AND op.tenant_id <> np.tenant_id
    AND o.tenant_id = op.tenant_id AND o.person_id = op.id AND o.present
    AND o.starts_at >= :lo AND o.starts_at < :hi
), w AS (
  SELECT p.*,
         MAX(ends_at) OVER (PARTITION BY who ORDER BY starts_at, tenant_id, session_id
                            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end,
         LEAD(starts_at) OVER (PARTITION BY who ORDER BY starts_at, tenant_id, session_id) AS next_start
  FROM p
)
SELECT w.who, w.tenant_id, w.person_id, w.session_id, w.role, w.starts_at, w.ends_at, s.association_id,
       s.reported_at, s.session_date
FROM w CROSS JOIN activity_session s
WHERE (w.prev_end > w.starts_at OR w.next_start < w.ends_at)
  AND s.tenant_id = w.tenant_id AND s.id = w.session_id
ORDER BY w.who, w.starts_at, w.tenant_id, w.session_id
""").bindparams(bindparam("lo", type_=DateTime), bindparam("hi", type_=DateTime))


def _plain_rows(conn, result) -> list:
    """All rows of a large result. On PostgreSQL straight from the driver's cursor, whose values are already
    Python's types, which saves building a Row object per row (about a second for a tenant-year)."""
    if conn.dialect.name != "postgresql":
        return result.all()
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def _scan_range(conn, tid: int, lo: dt.date, hi: dt.date) -> tuple[list[tuple], list[tuple]]:
    """Overlapping participations with a session of this tenant in ``[lo, hi]``: (in-tenant pairs, cross pairs).

    Must run in system scope. The window query returns the involved participations ordered by person and
    start; a sweep pairs each with the earlier ones still running. On PostgreSQL the written join order is
    kept for this statement (``join_collapse_limit = 1``): under the row-level-security policy the planner
    underestimates every table and would start the cross-tenant branch from all people of all tenants.
    """
    pg = conn.dialect.name == "postgresql"
    if pg:  # and room to sort a tenant-year's participations in memory
        conn.exec_driver_sql("SET LOCAL join_collapse_limit = 1")
        conn.exec_driver_sql(f"SET LOCAL work_mem = '{SCAN_WORK_MEM}'")
    # Sessions dated from the day before to the day after the range: one that starts the day before may
    # run past midnight into it, and one dated in it may run into the next day.
    result = conn.execute(_SCAN, {"t": tid, "lo": dt.datetime.combine(lo - DAY, dt.time()),
                                  "hi": dt.datetime.combine(hi + 2 * DAY, dt.time())})
    rows = _plain_rows(conn, result)
    if pg:
        conn.exec_driver_sql("SET LOCAL join_collapse_limit = DEFAULT")
        conn.exec_driver_sql("SET LOCAL work_mem = DEFAULT")
    pairs: list[tuple] = []
    cross: list[tuple] = []
    if not rows:
        return pairs, cross
    # Columns: 0 who, 1 tenant, 2 person, 3 session, 4 role, 5 starts, 6 ends, 7 association, 8 reported, 9 date.
    as_text = isinstance(rows[0][9], str)  # SQLite returns dates as text from raw SQL
    lo_v, hi_v = (lo.isoformat(), hi.isoformat()) if as_text else (lo, hi)
    who = None
    active: list = []
    for r in rows:
        if r[0] != who:
            who, active = r[0], [r]
            continue
        start = r[5]
        active = [a for a in active if a[6] > start]
        for a in active:
            a_in, b_in = lo_v <= a[9] <= hi_v, lo_v <= r[9] <= hi_v
            if a[1] == tid and r[1] == tid:
                if a_in or b_in:
                    pairs.append((a[3], r[3], a[2], a[4], r[4], a[7], r[7], a[9], r[9]))
            elif a[1] == tid and a_in:
                cross.append((a[3], a[2], r[1], r[3], r[2], (r[8], r[1]) < (a[8], tid)))
            elif r[1] == tid and b_in:
                cross.append((r[3], r[2], a[1], a[3], a[2], (a[8], a[1]) < (r[8], tid)))
        active.append(r)
    return pairs, cross


# --- classifying ---------------------------------------------------------------------------------------

def _classify(conn, tid: int, rows: list[tuple]) -> dict[str, Wanted]:
    """Turn overlapping attendances into flags: double reports per pair, else one flag per person."""
    by_pair: dict[tuple[int, int], list] = {}
    for s, o, p, rs, ro, as_, ao, ds, do in rows:
        pair = (s, o) if s < o else (o, s)
        info = by_pair.get(pair)
        if info is None:
            info = by_pair[pair] = [as_ == ao and ds == do, {}]
        info[1][p] = (rs, ro) if s < o else (ro, rs)
    present = _present_counts(conn, tid, sorted({sid for pair, info in by_pair.items() if info[0] for sid in pair}))
    wanted: dict[str, Wanted] = {}
    for (s, o), (same, people) in by_pair.items():
        common = len(people)
        if same:
            union = present.get(s, 0) + present.get(o, 0) - common
            if union > 0 and common * DOUBLE_REPORT_DEN >= union * DOUBLE_REPORT_NUM:
                w = Wanted(tid, "double_report", s, o)
                wanted[w.key] = w
                continue
        for p, (rs, ro) in people.items():
            kind = "leader_overlap" if rs in LEADING_ROLES and ro in LEADING_ROLES else "person_overlap"
            w = Wanted(tid, kind, s, o, p)
            wanted[w.key] = w
    return wanted


def _present_counts(conn, tid: int, ids: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for chunk in _chunks(conn, ids):
        out.update(conn.execute(select(_att.c.session_id, func.count()).where(
            _att.c.tenant_id == tid, _att.c.session_id.in_(chunk), _att.c.present).group_by(_att.c.session_id)).all())
    return out


def _cross_flags(tid: int, cross: list[tuple]) -> tuple[dict[str, Wanted], dict[tuple[int, str], Wanted]]:
    """Flags for clashes with other tenants: this tenant's, and the mirror flags of the other tenants."""
    here: dict[str, Wanted] = {}
    there: dict[tuple[int, str], Wanted] = {}
    refs: dict = {}
    mine = session_refs(tid)
    for s, p, ot, o, op, other_first in cross:
        theirs = refs.get(ot) or refs.setdefault(ot, session_refs(ot))
        w = Wanted(tid, "other_municipality", s, None, p, theirs(o), bool(other_first))
        here[w.key] = w
        m = Wanted(ot, "other_municipality", o, None, op, mine(s), not other_first)
        there[(ot, m.key)] = m
    return here, there


# --- writing ---------------------------------------------------------------------------------------------

def _insert(conn, flags: list[Wanted]) -> list[tuple]:
    """Insert flags (a flag that exists already is skipped); returns (tenant, id, key) of the rows sent."""
    if not flags:
        return []
    ids = list(allocate_ids(conn, "clash_flag", len(flags)))
    now = utcnow()
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(_flag).on_conflict_do_nothing(index_elements=["tenant_id", "clash_key"])
    conn.execute(stmt, [w.row(i, now) for w, i in zip(flags, ids, strict=True)])
    return [(w.tenant_id, i, w.key) for w, i in zip(flags, ids, strict=True)]


def _delete(conn, keys: list[tuple[int, int]]) -> int:
    """Delete flags by (tenant, id)."""
    for chunk in _chunks(conn, sorted(keys)):
        conn.execute(delete(_flag).where(tuple_(_flag.c.tenant_id, _flag.c.id).in_(chunk)))
    return len(keys)


_LOCK_SQL = text("""
SELECT count(pg_advisory_xact_lock(:ns, b)) FROM (
  SELECT DISTINCT CAST(CASE WHEN p.pnr_hash IS NOT NULL
                            THEN ('x' || substr(p.pnr_hash, 1, 8))::bit(32)::integer & :mask
                            ELSE (p.tenant_id::bigint * 1000003 + p.id) & :mask END AS integer) AS b
  FROM attendance a JOIN person p ON p.tenant_id = a.tenant_id AND p.id = a.person_id
  WHERE a.tenant_id = :t AND a.session_id IN :ids
  ORDER BY 1
) AS buckets
""").bindparams(bindparam("ids", expanding=True))


def lock_people(conn, tid: int, ids: list[int]) -> None:
    """Advisory transaction locks on the people of the given sessions, in bucket order (PostgreSQL)."""
    if conn.dialect.name != "postgresql" or not ids:
        return
    for chunk in _chunks(conn, ids):
        conn.execute(_LOCK_SQL, {"ns": LOCK_NAMESPACE, "mask": LOCK_BUCKETS - 1, "t": tid, "ids": chunk})


def check_batch(conn, tid: int, ids: list[int], removed: list[int], listed_twice: dict[int, set[int]],
                replaced: set[int]) -> SyncStats:
    """The check of one intake batch; must run in system scope (it reads and writes other tenants' flags).

    ``listed_twice`` maps session → people listed twice in this batch; the listed-twice flags of
    ``replaced`` sessions (reported whole again) are replaced, those of updated sessions are added to.
    """
    stats = SyncStats()
    lock_people(conn, tid, ids)
    wanted: dict[str, Wanted] = {}
    mirrors: dict[tuple[int, str], Wanted] = {}
    if ids:
        pairs, cross = _pairs_for_ids(conn, tid, ids)
        wanted = _classify(conn, tid, pairs)
        here, mirrors = _cross_flags(tid, cross)
        wanted.update(here)
        for sid, people in listed_twice.items():
            for p in sorted(people):
                w = Wanted(tid, "listed_twice", sid, None, p)
                wanted[w.key] = w
    ref = session_refs(tid)
    refs = [ref(s) for s in ids + removed]
    have: dict[tuple[int, str], tuple[int, str, int]] = {}
    for id_chunk, ref_chunk in zip_longest(_chunks(conn, ids), _chunks(conn, refs)):
        params = {"t": tid, "ids": id_chunk or [-1], "refs": ref_chunk or [""]}
        for t, i, key, kind, sid in conn.execute(_EXISTING_FOR_IDS, params):
            have[(t, key)] = (i, kind, sid)
    stale = []
    for (t, key), (i, kind, sid) in have.items():
        if t != tid:
            keep = (t, key) in mirrors
        elif kind == "listed_twice":
            keep = key in wanted or sid not in replaced
        else:
            keep = key in wanted
        if not keep:
            stale.append((t, i))
    new = [w for k, w in wanted.items() if (tid, k) not in have]
    new += [w for k, w in mirrors.items() if k not in have]
    stats.wanted = len(wanted) + len(mirrors)
    stats.removed = _delete(conn, stale)
    inserted = _insert(conn, new)
    stats.created = len(inserted)
    return stats


def sync_range(conn, tid: int, lo: dt.date, hi: dt.date) -> SyncStats:
    """Recompute the flags of the tenant's sessions dated in ``[lo, hi]`` (rescan); system scope.

    Listed-twice flags are left alone: the stored attendance holds each person once.
    """
    stats = SyncStats()
    rows, cross = _scan_range(conn, tid, lo, hi)
    wanted = _classify(conn, tid, rows)
    here, mirrors = _cross_flags(tid, cross)
    wanted.update(here)
    ids = conn.execute(select(_ses.c.id).where(_ses.c.tenant_id == tid, _ses.c.session_date.between(lo, hi))
                       ).scalars().all()
    in_range = set(ids)
    # The stored flags on those sessions. Both sessions of a flag overlap in time, so a flag whose other
    # session is in the range has its own dated at most a day outside it: one join, filtered here.
    have: dict[str, int] = {}
    stmt = (select(_flag.c.id, _flag.c.clash_key, _flag.c.session_id, _flag.c.other_session_id)
            .select_from(_flag.join(_ses, and_(_ses.c.tenant_id == _flag.c.tenant_id,
                                               _ses.c.id == _flag.c.session_id)))
            .where(_flag.c.tenant_id == tid, _flag.c.kind != "listed_twice",
                   _ses.c.session_date.between(lo - DAY, hi + DAY)))
    for i, key, sid, oid in _plain_rows(conn, conn.execute(stmt)):
        if sid in in_range or oid in in_range:
            have[key] = i
    # Other tenants' flags that refer to those sessions (by their keyed reference).
    mirrors_have: dict[tuple[int, str], int] = {}
    ref = session_refs(tid)
    refs = [ref(s) for s in ids]
    if conn.dialect.name == "postgresql":  # one text parameter instead of thousands of placeholders
        stmt = text("SELECT tenant_id, clash_key, id FROM clash_flag WHERE other_ref = ANY(string_to_array(:refs, ',')) "
                    "AND kind = 'other_municipality' AND tenant_id <> :t")
        batches = [conn.execute(stmt, {"refs": ",".join(refs), "t": tid}).all()] if refs else []
    else:
        batches = [conn.execute(select(_flag.c.tenant_id, _flag.c.clash_key, _flag.c.id).where(
            _flag.c.other_ref.in_(chunk), _flag.c.kind == "other_municipality", _flag.c.tenant_id != tid)).all()
            for chunk in _chunks(conn, refs)]
    for batch in batches:
        for t, key, i in batch:
            mirrors_have[(t, key)] = i
    stale = [(tid, i) for k, i in have.items() if k not in wanted]
    stale += [(t, i) for (t, k), i in mirrors_have.items() if (t, k) not in mirrors]
    new = [w for k, w in wanted.items() if k not in have] + [w for k, w in mirrors.items() if k not in mirrors_have]
    stats.wanted = len(wanted) + len(mirrors)
    stats.removed = _delete(conn, stale)
    stats.created = len(_insert(conn, new))
    return stats


def retrying(conn, func, *args, **kwargs):
    """Run ``func`` after a savepoint, retrying from it on a deadlock or a concurrent deletion (PostgreSQL).

    A raw savepoint on the connection (no release: it ends with the transaction); the work inside uses
    only Core statements on this connection, so the ORM session's state is not involved.
    """
    if conn.dialect.name != "postgresql":
        return func(*args, **kwargs)
    for attempt in range(RETRIES):
        conn.exec_driver_sql("SAVEPOINT apn_clash_check")
        try:
            return func(*args, **kwargs)
        except DBAPIError as exc:
            state = getattr(exc.orig, "sqlstate", None)
            if state not in RETRY_STATES or attempt == RETRIES - 1:
                raise
            conn.exec_driver_sql("ROLLBACK TO SAVEPOINT apn_clash_check")
            logger.info("clash check retried after %s (attempt %d)", state, attempt + 1)
    raise AssertionError("unreachable")


__all__ = ["SyncStats", "Wanted", "check_batch", "lock_people", "retrying", "session_ref", "sync_range"]

