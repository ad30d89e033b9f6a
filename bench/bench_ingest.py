"""Benchmark of the partner gateway's bulk endpoint over real HTTP, on PostgreSQL and SQLite.

One command::

    .venv/bin/python bench/bench_ingest.py                       # PostgreSQL (temporary cluster) and SQLite
    .venv/bin/python bench/bench_ingest.py --db postgresql --sessions 4000 --batch 1000

For each database: migrates an empty database, creates a municipality, an association, a partner client and
its attendance cards, then serves the app with gunicorn on 127.0.0.1 (started and stopped by the bench) and
pushes sessions of 20 participants + 2 leaders with ``POST /api/v1/sessions/bulk``, in three phases:

* ``first push``: people given inline (personal number + the partner's person id), so the intake creates
  the people and the partner's id mappings;
* ``by person id``: new sessions naming people only by the partner's person id;
* ``replace``: the same session codes sent again (DAK Add = replace whole).

Request bodies are encoded before the clock starts: the figures are the server's (HTTP, JSON parsing,
validation, the one intake with its clash check, commit). Each phase stops early when ``--budget`` seconds
are spent. Prints a Markdown table row per database and phase; the figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from apn.extensions import db  # noqa: E402
from apn.models import Group  # noqa: E402
from apn.services import partners as partner_svc  # noqa: E402
from apn.tenancy import tenant_scope  # noqa: E402
from apn.testing import factories as f  # noqa: E402
from apn.testing.servers import gunicorn  # noqa: E402
from bench.common import bench_database, database_kinds, machine, migrated_app, print_table  # noqa: E402

PARTICIPANTS = 20
LEADERS = 2


class Dataset:
    """Groups with fixed rosters; session ``i`` belongs to group ``i % groups`` on day ``i // groups``."""

    def __init__(self, orgnr: str, groups: int, first_day: dt.date) -> None:
        self.orgnr = orgnr
        self.groups = groups
        self.first_day = first_day

    def person(self, group: int, k: int, leader: bool) -> tuple[str, str]:
        """The partner's person id and a personal number of one roster member."""
        n = group * (PARTICIPANTS + LEADERS) + k + (PARTICIPANTS if leader else 0)
        birth = dt.date(1975, 1, 1) + dt.timedelta(days=n % 9000) if leader else \
            dt.date(2008, 1, 1) + dt.timedelta(days=n % 3600)
        return f"P{n}", f.make_pnr(birth, n % 10_000, female=bool(n % 2))

    def session(self, i: int, inline: bool) -> dict:
        """The bulk item of session ``i``."""
        group, day = i % self.groups, i // self.groups

        def mark(k: int, leader: bool) -> dict:
            pid, pnr = self.person(group, k, leader)
            m = {"person_id": pid, "present": True}
            if inline:
                m["personnummer"] = pnr
            return m

        return {"kod": f"S{i:07d}", "method": "add", "organisationsnummer": self.orgnr,
                "card_number": str(group), "date": (self.first_day + dt.timedelta(days=day)).isoformat(),
                "start_time": "18:00", "stop_time": "19:30", "type": "Traening", "activity": "Fotboll",
                "participants": [mark(k, False) for k in range(PARTICIPANTS)],
                "leaders": [mark(k, True) for k in range(LEADERS)]}


def setup(app, groups: int) -> tuple[str, str, str]:
    """Municipality, association, partner and its cards; returns (orgnr, client_id, secret)."""
    with app.app_context():
        t = f.create_tenant(slug="bench", kommunkod="2480", name="Bench kommun")
        a = f.create_association(t, name="Bench IF", orgnr=f.make_orgnr(1))
        with tenant_scope(t.id):
            client, secret = partner_svc.create_client("BenchSoft")
            partner_svc.authorise(client.client_id, a.organisationsnummer)
            db.session.add_all([Group(tenant_id=t.id, association_id=a.id, name=f"Grupp {g}",
                                      partner_client_id=client.id, partner_card_number=str(g))
                                for g in range(groups)])
            db.session.flush()
        db.session.commit()
        return a.organisationsnummer, client.client_id, secret


@contextlib.contextmanager
def serving(cfg: dict, workers: int) -> Iterator[str]:
    """gunicorn on 127.0.0.1 with the app factory; yields its URL once it answers, stops it afterwards."""
    with gunicorn(cfg, workers, env={"APN_API_RATE_LIMIT": "1000000 per minute"},
                  args=("--timeout", "600", "--log-level", "warning")) as (url, _proc):
        yield url


def phase(http: requests.Session, url: str, bodies: list[bytes], budget: float) -> dict:
    """POST the bodies in order until done or out of time; participations per second of the server."""
    done_sessions = done_part = 0
    refused = 0
    t0 = time.perf_counter()
    for body in bodies:
        r = http.post(url + "/api/v1/sessions/bulk", data=body, headers={"Content-Type": "application/json"},
                      timeout=600)
        if r.status_code != 200:
            raise RuntimeError(f"bulk answered {r.status_code}: {r.text[:500]}")
        totals = r.json()["totals"]
        refused += totals["refused"]
        done_sessions += totals["accepted"]
        done_part += totals["participations"] + totals["leader_participations"]
        if time.perf_counter() - t0 > budget:
            break
    secs = time.perf_counter() - t0
    return {"sessions": done_sessions, "participations": done_part, "seconds": secs, "refused": refused,
            "per_second": done_part / secs if secs else 0.0}


def run(kind: str, sessions: int, batch: int, workers: int, budget: float) -> list[dict]:
    """Set up one database, serve it, push the three phases; returns the rows."""
    with bench_database(kind, "ingest") as bdb:
        app = migrated_app(bdb.config, TESTING=False)
        groups = max(1, min(500, sessions // 10))
        first_day = dt.date.today() - dt.timedelta(days=max(1, sessions // groups // 2 + 2) * 2)
        orgnr, client_id, secret = setup(app, groups)
        data = Dataset(orgnr, groups, first_day)
        with serving(bdb.config, workers) as url:
            http = requests.Session()
            tok = http.post(url + "/api/v1/auth/token", data={"grant_type": "client_credentials",
                                                               "client_id": client_id, "client_secret": secret},
                            timeout=60).json()
            http.headers["Authorization"] = f"Bearer {tok['access_token']}"
            if bdb.pg is not None:
                # A production database has planner statistics (autovacuum); a fresh one has none, and the
                # clash check's pair query then gets a pathological plan. Seed a little, then ANALYZE.
                warm = json.dumps({"sessions": [data.session(i, True) for i in range(sessions, sessions + 50)]})
                phase(http, url, [warm.encode()], budget)
                bdb.pg.psql("ANALYZE", database="apn_bench")

            half = sessions // 2
            plans = [("first push", range(0, half), True), ("by person id", range(half, sessions), False),
                     ("replace", range(0, half), False)]
            rows = []
            for name, rng, inline in plans:
                idx = list(rng)
                chunks = [idx[i:i + batch] for i in range(0, len(idx), batch)]
                bodies = [json.dumps({"sessions": [data.session(i, inline) for i in c]}).encode() for c in chunks]
                res = phase(http, url, bodies, budget)
                rows.append({"db": kind, "phase": name, "batch": batch, "workers": workers, **res})
                print(f"  {kind:10} {name:13} {res['sessions']:7,} sessions {res['participations']:9,} "
                      f"participations in {res['seconds']:6.1f} s = {res['per_second']:8,.0f}/s "
                      f"(refused {res['refused']})", flush=True)
            return rows


def main() -> None:
    """Parse arguments, run, print the Markdown rows."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=("postgresql", "sqlite", "both"), default="both")
    ap.add_argument("--sessions", type=int, default=10_000, help="new sessions per database (default 10,000)")
    ap.add_argument("--batch", type=int, default=1000, help="sessions per request (default 1,000; at most 5,000)")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    ap.add_argument("--budget", type=float, default=120.0, help="seconds per phase at most (default 120)")
    args = ap.parse_args()
    print(f"Machine: {machine()}")
    rows = [r for k in database_kinds(args.db) for r in run(k, args.sessions, args.batch, args.workers, args.budget)]
    print_table(["database", "phase", "sessions/request", "sessions", "participations", "seconds",
                 "participations/s"],
                [[r["db"], r["phase"], f"{r['batch']:,}", f"{r['sessions']:,}", f"{r['participations']:,}",
                  f"{r['seconds']:.1f}", f"{r['per_second']:,.0f}"] for r in rows], align="--:")


if __name__ == "__main__":
    main()
