"""Benchmark of the rule engine: kungsbacka-2023 over a tenant-year on PostgreSQL and SQLite.

    .venv/bin/python -m bench.bench_rules --participations 2000000 [--sqlite-only | --postgres-only]

Generates its own data (bulk-loaded directly: a data generator, not an intake channel): 300 associations,
about ``participations / 10`` sessions over 2025 with about 10 participants and 1–2 leaders each, some
sessions too short, some participants too young or too old, some absent. Then, in a fresh child process
(so peak memory is the evaluation's, not the generator's), it times :func:`apn.rules.evaluate` for the
period 2025 (one year) and a hand-written SQL query computing the same totals, checks that both agree
per association, and prints wall time and peak RSS (``resource.getrusage(...).ru_maxrss``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time

KEYS = {"SECRET_KEY": "bench-secret", "PNR_HASH_KEY": "bench-pnr-hash-key",
        "PNR_ENCRYPTION_KEY": "x3pC6mCTcLkq2cXKhYFx1p4qYkYQ3F3Hn0u3ZbqJ1kE="}
PERIOD = "2025"
N_ASSOC = 300

HAND_SQL = {
    "postgresql": {
        "wk": "(s.session_date - CAST(EXTRACT(ISODOW FROM s.session_date) AS INTEGER) + 1)",
        "age": "(CAST(EXTRACT(YEAR FROM s.session_date) AS INTEGER) - CAST(EXTRACT(YEAR FROM p.birth_date) AS INTEGER))",
    },
    "sqlite": {
        "wk": "date(s.session_date, '-' || ((CAST(strftime('%w', s.session_date) AS INTEGER) + 6) % 7) || ' days')",
        "age": "(CAST(strftime('%Y', s.session_date) AS INTEGER) - CAST(strftime('%Y', p.birth_date) AS INTEGER))",
    },
}


def hand_sql(dialect: str, tenant_id: int, first: str, last: str) -> str:
    """kungsbacka-2023 written by hand: total öre per association (weeks looked back to the first Monday)."""
    d = HAND_SQL[dialect]
    return f"""
WITH a AS (
  SELECT a.session_id, a.person_id, a.role, a.present, s.association_id, s.session_date, s.starts_at,
         s.duration_minutes, {d['wk']} AS wk, {d['age']} AS age
  FROM attendance a
  JOIN activity_session s ON s.tenant_id = a.tenant_id AND s.id = a.session_id
  JOIN person p ON p.tenant_id = a.tenant_id AND p.id = a.person_id
  WHERE a.tenant_id = {tenant_id} AND s.session_date >= '{first}' AND s.session_date <= '{last}'
), v AS (
  SELECT a.*,
         SUM(CASE WHEN role = 'participant' AND present AND age BETWEEN 7 AND 20 THEN 1 ELSE 0 END)
           OVER (PARTITION BY session_id) AS elig,
         SUM(CASE WHEN role <> 'participant' AND present AND age >= 13 THEN 1 ELSE 0 END)
           OVER (PARTITION BY session_id) AS leaders
  FROM a
), ok AS (
  SELECT * FROM v WHERE duration_minutes >= 45 AND elig >= 3 AND leaders >= 1
), cand AS (
  SELECT ok.*, ROW_NUMBER() OVER (PARTITION BY session_id ORDER BY person_id) AS rn
  FROM ok WHERE role = 'participant' AND present AND age BETWEEN 7 AND 20
), capped AS (
  SELECT c.*, ROW_NUMBER() OVER (PARTITION BY association_id, person_id, wk, CASE WHEN age <= 9 THEN 1 ELSE 2 END
                                 ORDER BY starts_at, session_id) AS wrn
  FROM cand c WHERE rn <= 20 * leaders
), units AS (
  SELECT association_id, COUNT(*) AS n FROM capped
  WHERE wrn <= CASE WHEN age <= 9 THEN 3 ELSE 5 END AND session_date >= '{PERIOD}-01-01'
  GROUP BY association_id
  UNION ALL
  SELECT association_id, COUNT(*) FROM ok
  WHERE role = 'leader' AND present AND age BETWEEN 13 AND 20 AND session_date >= '{PERIOD}-01-01'
  GROUP BY association_id
)
SELECT association_id, SUM(n) * 750 FROM units GROUP BY association_id
"""


def _make_app(url: str, owner_url: str | None = None):
    from apn import create_app

    cfg = {"TESTING": False, "DATABASE_URL": url, **KEYS}
    if owner_url:
        cfg.update(MIGRATE_DATABASE_URL=owner_url, DB_APP_ROLE="apn_app")
    return create_app(cfg)


def generate(app, participations: int, seed: int = 2025, bulk_url: str | None = None) -> int:
    """Create the tenant, period, associations and the bulk data; returns the tenant id.

    On PostgreSQL the bulk rows are loaded with COPY as the superuser (``bulk_url``): row-level security
    does not allow COPY FROM for the application role.
    """
    from sqlalchemy import create_engine

    from apn.extensions import db
    from apn.models import ActivitySession, Attendance, GrantPeriod, Person, allocate_ids
    from apn.tenancy import tenant_scope
    from apn.testing import factories as f

    rnd = random.Random(seed)
    with app.app_context():
        tenant = f.create_tenant(slug="bench", kommunkod="1384", name="Bench kommun", ruleset="kungsbacka-2023")
        tid = tenant.id
        with tenant_scope(tid, db.session()):
            db.session.add(GrantPeriod(tenant_id=tid, code=PERIOD, starts_on=dt.date(2025, 1, 1),
                                       ends_on=dt.date(2025, 12, 31), deadline=dt.date(2026, 2, 25), status="open"))
            assocs = [f.create_association(tenant, name=f"Förening {i}") for i in range(N_ASSOC)]
            groups = [f.create_group(tenant, a) for a in assocs]
            assoc_ids, group_ids = [a.id for a in assocs], [g.id for g in groups]
            db.session.commit()
        bulk_engine = create_engine(bulk_url) if bulk_url else db.engine
        with bulk_engine.begin() as conn:
            now = "2025-01-01 00:00:00"
            # People: 80 participants aged 5–22 and 6 leaders (half aged 14–19) per association.
            people, pool = [], []
            pids = iter(allocate_ids(conn, "person", N_ASSOC * 86))
            for _ in range(N_ASSOC):
                kids, leaders = [], []
                for j in range(86):
                    pid = next(pids)
                    if j < 80:
                        age = rnd.randint(5, 22)
                        kids.append(pid)
                    else:
                        age = rnd.randint(14, 19) if j < 83 else rnd.randint(20, 60)
                        leaders.append(pid)
                    birth = dt.date(2025 - age, rnd.randint(1, 12), rnd.randint(1, 28))
                    people.append((tid, pid, "Bench", f"P{pid}", birth.isoformat(), rnd.choice("FM"), None, None,
                                   False, None, now))
                pool.append((kids, leaders))
            n_sessions = participations // 10
            sids = iter(allocate_ids(conn, "activity_session", n_sessions))
            sessions, rows = [], []
            made = 0
            for k in range(n_sessions):
                ai = k % N_ASSOC
                sid = next(sids)
                day = dt.date(2025, 1, 1) + dt.timedelta(days=rnd.randrange(365))
                start = dt.datetime.combine(day, dt.time(rnd.choice([16, 17, 18, 19, 20]), rnd.choice([0, 30])))
                dur = rnd.choice([40, 45, 60, 60, 90, 90, 120])
                end = start + dt.timedelta(minutes=dur)
                sessions.append((tid, sid, group_ids[ai], assoc_ids[ai], day.isoformat(), start.time().isoformat(),
                                 end.time().isoformat(), end.date().isoformat() if end.date() != day else None,
                                 start.isoformat(sep=" "), end.isoformat(sep=" "), dur, None, None, "Traening", False,
                                 "api", None, None, None, now, now))
                kids, leaders = pool[ai]
                want = participations - made if k == n_sessions - 1 else rnd.randint(5, 15)
                want = max(0, min(want, len(kids)))
                span = (start.isoformat(sep=" "), end.isoformat(sep=" "))
                for pid in rnd.sample(kids, want):
                    rows.append((tid, sid, pid, *span, "participant", rnd.random() > 0.03, False))
                made += want
                n_lead = rnd.choices([0, 1, 2], [3, 80, 17])[0]
                for pid in rnd.sample(leaders, n_lead):
                    rows.append((tid, sid, pid, *span, "leader", True, False))
            _bulk(conn, Person.__table__, people)
            _bulk(conn, ActivitySession.__table__, sessions)
            _bulk(conn, Attendance.__table__, rows)
        if bulk_url:
            bulk_engine.dispose()
        return tid


def _bulk(conn, table, rows: list[tuple]) -> None:
    """COPY on PostgreSQL, executemany on SQLite; rows in the table's column order."""
    cols = [c.name for c in table.columns]
    raw = conn.connection.dbapi_connection
    if conn.dialect.name == "postgresql":
        def text(v):
            if v is None:
                return r"\N"
            if isinstance(v, bool):
                return "t" if v else "f"
            return str(v)
        with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({', '.join(cols)}) FROM STDIN") as copy:
            buf = io.StringIO()
            for i, r in enumerate(rows, 1):
                buf.write("\t".join(text(v) for v in r) + "\n")
                if i % 100_000 == 0:
                    copy.write(buf.getvalue())
                    buf = io.StringIO()
            copy.write(buf.getvalue())
        return
    cur = raw.cursor()
    marks = ", ".join("?" for _ in cols)
    cur.executemany(f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({marks})",
                    [tuple(int(v) if isinstance(v, bool) else v for v in r) for r in rows])
    cur.close()


def child(url: str, tenant_id: int) -> dict:
    """Time the engine (twice) and the hand-written SQL (twice) in this fresh process; compare totals."""
    from sqlalchemy import text

    from apn.extensions import db
    from apn.rules import evaluate
    from apn.tenancy import tenant_scope

    app = _make_app(url)
    out: dict = {}
    with app.app_context():
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            ev = evaluate(tenant_id, PERIOD)
            times.append(time.perf_counter() - t0)
            db.session.rollback()
        out["engine_s"] = times
        out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        engine = {a: r.total_ore for a, r in ev.associations.items() if r.total_ore}
        out["total_ore"] = ev.total_ore
        out["participations_counted"] = sum(r.participations_counted for r in ev.associations.values())
        out["sessions_valid"] = sum(r.sessions_valid for r in ev.associations.values())
        sql = hand_sql(db.engine.dialect.name, tenant_id, "2024-12-30", "2025-12-31")
        times = []
        for _ in range(2):
            with tenant_scope(tenant_id, db.session()):
                t0 = time.perf_counter()
                hand = {int(a): int(x) for a, x in db.session.execute(text(sql)).all() if x}
                times.append(time.perf_counter() - t0)
            db.session.rollback()
        out["sql_s"] = times
        out["agree"] = hand == engine
        if not out["agree"]:
            diff = {a: (engine.get(a), hand.get(a)) for a in set(engine) | set(hand) if engine.get(a) != hand.get(a)}
            out["differences"] = dict(list(diff.items())[:5])
    return out


def run_one(kind: str, participations: int) -> dict:
    """Set up one database, generate, evaluate in a child process."""
    from apn.extensions import db

    pg = None
    tmpdir = tempfile.mkdtemp(prefix="apn-bench-")
    try:
        if kind == "postgresql":
            from apn.testing.postgres import TempPostgres

            pg = TempPostgres(database="apn_bench").start()
            url, owner = pg.url("apn_app"), pg.url("apn_owner")
            app = _make_app(url, owner)
            with app.app_context():
                from flask_migrate import upgrade

                upgrade()
        else:
            url, owner = f"sqlite:///{tmpdir}/bench.sqlite", None
            app = _make_app(url)
            with app.app_context():
                db.create_all()
        t0 = time.perf_counter()
        tid = generate(app, participations, bulk_url=pg.url("postgres") if pg is not None else None)
        gen_s = time.perf_counter() - t0
        if pg is not None:
            pg.psql("VACUUM ANALYZE", database="apn_bench")
        res = subprocess.run([sys.executable, "-m", "bench.bench_rules", "--child", url, str(tid)],
                             capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"the evaluation process failed:\n{res.stderr[-4000:]}")
        out = json.loads(res.stdout.strip().splitlines()[-1])
        out.update(database=kind, generate_s=round(gen_s, 1), participations=participations)
        return out
    finally:
        if pg is not None:
            pg.stop()


def machine() -> str:
    """nproc, RAM, architecture."""
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} CPUs, {mem:.0f} GB RAM, {platform.machine()}, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--participations", type=int, default=2_000_000)
    p.add_argument("--sqlite-only", action="store_true")
    p.add_argument("--postgres-only", action="store_true")
    p.add_argument("--child", nargs=2, metavar=("URL", "TENANT_ID"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]))))
        return 0
    kinds = ["sqlite"] if args.sqlite_only else ["postgresql"] if args.postgres_only else ["postgresql", "sqlite"]
    print(f"machine: {machine()}; date {dt.date.today().isoformat()}")
    ok = True
    for kind in kinds:
        r = run_one(kind, args.participations)
        best_e, best_s = min(r["engine_s"]), min(r["sql_s"])
        print(f"{kind}: {r['participations']:,} participations generated in {r['generate_s']} s; "
              f"engine {' / '.join(f'{x:.2f}' for x in r['engine_s'])} s, "
              f"hand-written SQL {' / '.join(f'{x:.2f}' for x in r['sql_s'])} s, ratio {best_e / best_s:.2f}, "
              f"peak RSS {r['peak_rss_mb']:.0f} MB; total {r['total_ore']} öre, "
              f"{r['participations_counted']:,} counted, {r['sessions_valid']:,} valid sessions; "
              f"agree={r['agree']}")
        if not r["agree"]:
            print("  differences (engine, sql):", r.get("differences"))
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
