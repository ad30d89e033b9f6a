"""Benchmark of clash detection: the check of one new session at intake, and a full rescan of a tenant-year.

One command::

    .venv/bin/python bench/bench_clash.py                  # PostgreSQL (temporary cluster) and SQLite
    .venv/bin/python bench/bench_clash.py --db sqlite --participations 200000   # smaller, one database

Stores N participations (default 2,000,000) for one municipality's year with a data generator (bulk
inserts, COPY on PostgreSQL; not a channel), plus a second municipality sharing people by personal-number
hash. Then measures: ``apn.intake.ingest`` of a new session of 20 participants (median; with and without
the clash check), a full ``apn.clash.rescan`` of the year, and a hand-written SQL window query that finds
the same overlapping participations, checking that both agree. Prints a Markdown table row per database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import DateTime, bindparam, create_engine, insert, select, text  # noqa: E402

from apn.clash.detection import SCAN_WORK_MEM  # noqa: E402
from apn.extensions import db  # noqa: E402
from apn.intake import AttendanceMark, PersonRef, SessionCommand, ingest  # noqa: E402
from apn.models import (  # noqa: E402
    ActivitySession,
    Association,
    Attendance,
    ClashFlag,
    Group,
    Person,
    Tenant,
    allocate_ids,
)
from apn.tenancy import system_scope, tenant_scope  # noqa: E402
from bench.common import bench_database, database_kinds, machine, migrated_app  # noqa: E402

YEAR = 2025
PER_SESSION = 20

#: The reference: participations overlapping another participation of the same person, by window functions
#: over the attendance rows and their own copy of the session times (the fastest hand-written form; the same
#: query joining ``activity_session`` for the times measured about 5 % slower).
WINDOW_SQL = """
WITH w AS (
  SELECT person_id, session_id, starts_at, ends_at,
         MAX(ends_at) OVER (PARTITION BY person_id ORDER BY starts_at, session_id
                            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end,
         LEAD(starts_at) OVER (PARTITION BY person_id ORDER BY starts_at, session_id) AS next_start
  FROM attendance
  WHERE tenant_id = :t AND present AND starts_at >= :lo AND starts_at < :hi
)
SELECT person_id, session_id FROM w WHERE prev_end > starts_at OR next_start < ends_at
"""


_T0 = time.perf_counter()


def log(msg: str) -> None:
    """Progress on stderr."""
    print(f"[{time.perf_counter() - _T0:7.1f} s] {msg}", file=sys.stderr, flush=True)


def _hash(i: int) -> str:
    return hashlib.sha256(f"bench-person-{i}".encode()).hexdigest()


class Generator:
    """Builds one municipality-year of sessions and attendance with bulk inserts."""

    def __init__(self, conn, seed: int = 1) -> None:
        self.conn = conn
        self.rnd = random.Random(seed)

    def tenant(self, slug: str, kommunkod: str) -> int:
        """A tenant row."""
        return self.conn.execute(insert(Tenant).values(slug=slug, name=slug.title(), kommunkod=kommunkod,
                                                       settings={}).returning(Tenant.id)).scalar_one()

    def fill(self, tid: int, sessions: int, people: int, hash_offset: int = 0, doubles: int = 0) -> dict:
        """Associations, groups with weekly slots, people, ``sessions`` sessions of 20 present people each."""
        rnd, conn = self.rnd, self.conn
        n_groups = max(sessions // 40, 1)
        n_assoc = max(n_groups // 10, 1)
        assoc_ids = list(allocate_ids(conn, "association", n_assoc))
        conn.execute(insert(Association), [{"tenant_id": tid, "id": a, "name": f"Förening {a}",
                                            "organisationsnummer": f"{8020000000 + a}"} for a in assoc_ids])
        person_ids = list(allocate_ids(conn, "person", people))
        conn.execute(insert(Person), [{"tenant_id": tid, "id": p, "first_name": "Bench", "last_name": f"P{i}",
                                       "birth_date": dt.date(2010, 1, 1) + dt.timedelta(days=i % 3000),
                                       "sex": "FM"[i % 2], "pnr_hash": _hash(i + hash_offset)}
                                      for i, p in enumerate(person_ids)])
        group_ids = list(allocate_ids(conn, "activity_group", n_groups))
        groups = []
        for g in group_ids:
            start = dt.time(rnd.randrange(16, 20), rnd.choice((0, 15, 30, 45)))
            groups.append({"tenant_id": tid, "id": g, "association_id": rnd.choice(assoc_ids), "name": f"Grupp {g}",
                           "usual_weekday": rnd.randrange(7), "usual_start": start, "active": True,
                           "roster": rnd.sample(person_ids, PER_SESSION + 4),
                           "minutes": rnd.choice((60, 75, 90))})
        conn.execute(insert(Group), [{k: v for k, v in g.items() if k not in ("roster", "minutes")} for g in groups])
        session_ids = list(allocate_ids(conn, "activity_session", sessions + doubles))
        sess_rows, att_rows = [], []
        jan1 = dt.date(YEAR, 1, 1)
        now = dt.datetime.now(dt.UTC)
        it = iter(session_ids)
        for n in range(sessions):
            g = groups[n % n_groups]
            week = (n // n_groups) % 52
            day = jan1 + dt.timedelta(days=(g["usual_weekday"] - jan1.weekday()) % 7 + 7 * week)
            starts = dt.datetime.combine(day, g["usual_start"])
            sid = next(it)
            sess_rows.append(self._session(tid, sid, g, starts, g["minutes"], now))
            span = (starts, starts + dt.timedelta(minutes=g["minutes"]))
            for p in rnd.sample(g["roster"], PER_SESSION):
                att_rows.append((tid, sid, p, "participant" if len(att_rows) % PER_SESSION else "leader", span))
        for k in range(doubles):  # the same session reported again by a partner, one person fewer
            idx = k * 997 % sessions
            sid = next(it)
            sess_rows.append(dict(sess_rows[idx], id=sid, channel="api", partner_code=f"dbl-{sid}"))
            for _t, _s, p, _r, span in att_rows[idx * PER_SESSION + 1:(idx + 1) * PER_SESSION]:
                att_rows.append((tid, sid, p, "participant", span))
        log(f"tenant {tid}: {len(sess_rows):,} sessions, {len(att_rows):,} participations built")
        self._bulk(sess_rows, att_rows)
        log(f"tenant {tid}: stored")
        return {"groups": groups, "sessions": len(sess_rows), "participations": len(att_rows),
                "people": person_ids}

    @staticmethod
    def _session(tid, sid, g, starts, minutes, now) -> dict:
        ends = starts + dt.timedelta(minutes=minutes)
        return {"tenant_id": tid, "id": sid, "group_id": g["id"], "association_id": g["association_id"],
                "session_date": starts.date(), "start_time": starts.time(), "stop_time": ends.time(),
                "stop_date": ends.date() if ends.date() != starts.date() else None, "starts_at": starts,
                "ends_at": ends, "duration_minutes": minutes, "activity": None, "facility_id": None,
                "session_type": "Traening", "team_sport": False, "channel": "app", "partner_client_id": None,
                "partner_code": None, "reported_by_user_id": None, "reported_at": now, "updated_at": now}

    def _bulk(self, sess_rows: list[dict], att_rows: list[tuple]) -> None:
        conn = self.conn
        if conn.dialect.name != "postgresql":
            conn.execute(insert(ActivitySession), sess_rows)
            for i in range(0, len(att_rows), 100_000):
                conn.execute(insert(Attendance), [
                    {"tenant_id": t, "session_id": s, "person_id": p, "role": r, "present": True, "disability": False,
                     "starts_at": span[0], "ends_at": span[1]}
                    for t, s, p, r, span in att_rows[i:i + 100_000]])
            return
        raw = conn.connection.driver_connection
        cols = list(sess_rows[0])
        with raw.cursor() as cur:
            with cur.copy(f"COPY activity_session ({', '.join(cols)}) FROM STDIN") as cp:
                for r in sess_rows:
                    cp.write_row([r[c] for c in cols])
            buf = io.StringIO()
            for t, s, p, r, (a, b) in att_rows:
                buf.write(f"{t}\t{s}\t{p}\t{r}\tt\tf\t{a}\t{b}\n")
            with cur.copy("COPY attendance (tenant_id, session_id, person_id, role, present, disability, starts_at, "
                          "ends_at) FROM STDIN") as cp:
                cp.write(buf.getvalue())


def _oracle(conn, tid: int) -> set[tuple[int, int]]:
    if conn.dialect.name == "postgresql":  # the same memory for sorting as the rescan's scan gets
        conn.exec_driver_sql(f"SET LOCAL work_mem = '{SCAN_WORK_MEM}'")
    stmt = text(WINDOW_SQL).bindparams(bindparam("lo", type_=DateTime), bindparam("hi", type_=DateTime))
    return set(conn.execute(stmt, {"t": tid, "lo": dt.datetime(YEAR, 1, 1), "hi": dt.datetime(YEAR + 1, 1, 1)}).all())


def _from_flags(conn, tid: int) -> set[tuple[int, int]]:
    """Overlapping participations according to the stored flags (double reports: the shared people)."""
    out: set[tuple[int, int]] = set()
    doubles = []
    for kind, s, o, p in conn.execute(select(ClashFlag.kind, ClashFlag.session_id, ClashFlag.other_session_id,
                                             ClashFlag.person_id).where(ClashFlag.tenant_id == tid)):
        if kind in ("person_overlap", "leader_overlap"):
            out |= {(p, s), (p, o)}
        elif kind == "double_report":
            doubles.append((s, o))
    a, b = Attendance.__table__.alias("a"), Attendance.__table__.alias("b")
    for s, o in doubles:
        for (p,) in conn.execute(select(a.c.person_id).join(b, (b.c.tenant_id == a.c.tenant_id) & (
                b.c.person_id == a.c.person_id) & (b.c.session_id == o) & b.c.present).where(
                a.c.tenant_id == tid, a.c.session_id == s, a.c.present)):
            out |= {(p, s), (p, o)}
    return out


def _new_session(rnd: random.Random, data: dict) -> SessionCommand:
    g = rnd.choice(data["groups"])
    day = dt.date(YEAR, 1, 1) + dt.timedelta(days=rnd.randrange(365))
    start = dt.time(rnd.randrange(16, 20), rnd.choice((0, 15, 30, 45)))
    people = rnd.sample(data["people"], PER_SESSION)
    return SessionCommand(association_id=g["association_id"], group_id=g["id"], session_date=day,
                          start_time=start, stop_time=(dt.datetime.combine(day, start) + dt.timedelta(hours=1)).time(),
                          channel="app", attendance=[AttendanceMark(PersonRef(person_id=p)) for p in people])


def _time_ingest(tid: int, data: dict, iterations: int, hook: bool) -> tuple[float, int]:
    from apn.intake import service as intake_service

    saved = list(intake_service._after_persist)
    if not hook:
        intake_service._after_persist.clear()
    rnd = random.Random(7)
    times, flagged = [], 0
    try:
        for i in range(iterations + 5):
            cmd = _new_session(rnd, data)
            with tenant_scope(tid):
                db.session.connection()
                t0 = time.perf_counter()
                result = ingest([cmd])
                elapsed = time.perf_counter() - t0
            flagged += bool(result.accepted[0].notes)
            db.session.rollback()
            if i >= 5:
                times.append(elapsed)
    finally:
        intake_service._after_persist[:] = saved
    return statistics.median(times) * 1000, flagged


def run(kind: str, participations: int, iterations: int) -> dict:
    """Generate, measure and check one database; returns the figures."""
    with bench_database(kind, "clash") as bdb:
        pg = bdb.pg
        app = migrated_app(bdb.config, TESTING=True)
        with app.app_context():
            t0 = time.perf_counter()
            # The generator writes as the superuser on PostgreSQL (COPY is refused under row-level security).
            engine = create_engine(bdb.superuser_url()) if pg else db.engine
            with engine.begin() as conn:
                gen = Generator(conn)
                tid = gen.tenant("bench", "9001")
                tid2 = gen.tenant("bench-two", "9002")
                sessions = participations // PER_SESSION
                data = gen.fill(tid, sessions, people=max(sessions // 4, 100), doubles=100)
                gen.fill(tid2, max(sessions // 10, 10), people=max(sessions // 40, 30))  # shares people by hash
            if pg:
                engine.dispose()
                pg.psql("VACUUM ANALYZE", database="apn_bench")
            gen_s = time.perf_counter() - t0
            with system_scope():
                stored = db.session.execute(text("SELECT count(*) FROM attendance")).scalar()
            db.session.commit()

            log("generated")
            check_ms, flagged = _time_ingest(tid, data, iterations, hook=True)
            bare_ms, _ = _time_ingest(tid, data, iterations, hook=False)

            log("ingest timed")
            from apn.clash import rescan

            with tenant_scope(tid):
                cold = rescan(tid, str(YEAR))
            db.session.commit()
            log(f"cold rescan {cold}")
            with tenant_scope(tid):
                warm = rescan(tid, str(YEAR))
                log(f"warm rescan {warm}")
                conn = db.session.connection()
                t0 = time.perf_counter()
                oracle = _oracle(conn, tid)
                window_s = time.perf_counter() - t0
                found = _from_flags(conn, tid)
                kinds = dict(conn.execute(select(ClashFlag.kind, db.func.count()).where(
                    ClashFlag.tenant_id == tid).group_by(ClashFlag.kind)).all())
            db.session.rollback()
            db.session.remove()
            db.engine.dispose()
        return {"db": kind, "participations": stored, "tenant_participations": data["participations"],
                "generate_s": round(gen_s, 1), "check_ms": round(check_ms, 2), "ingest_without_check_ms": round(bare_ms, 2),
                "new_sessions_flagged": f"{flagged}/{iterations + 5}", "rescan_cold_s": cold["seconds"],
                "rescan_s": warm["seconds"], "window_s": round(window_s, 3),
                "ratio": round(warm["seconds"] / window_s, 2), "flags": cold["flags"], "kinds": kinds,
                "overlapping_participations": len(oracle), "agree": oracle == found}


def main() -> None:
    """Parse arguments, run, print."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=("postgresql", "sqlite", "both"), default="both")
    ap.add_argument("--participations", type=int, default=2_000_000)
    ap.add_argument("--iterations", type=int, default=50)
    args = ap.parse_args()
    print(machine(), flush=True)
    kinds = database_kinds(args.db)
    for kind in kinds:
        r = run(kind, args.participations, args.iterations)
        print(r, flush=True)
        ok_check = r["check_ms"] <= 20
        ok_rescan = r["rescan_s"] <= 10 if kind == "postgresql" else True
        ok_ratio = r["ratio"] <= 3
        print(f"| {kind} | {r['participations']:,} | {r['check_ms']} ms ({r['ingest_without_check_ms']} ms without "
              f"check) {'✓' if ok_check else '✗'} | {r['rescan_s']} s (cold, writing {r['flags']:,} flags: "
              f"{r['rescan_cold_s']} s) {'✓' if ok_rescan else '✗'} | {r['window_s']} s | {r['ratio']} × "
              f"{'✓' if ok_ratio else '✗'} | {'yes' if r['agree'] else 'NO'} |", flush=True)


if __name__ == "__main__":
    main()
