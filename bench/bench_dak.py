"""Benchmark of the DAK import (and export) on PostgreSQL and SQLite.

One command::

    .venv/bin/python bench/bench_dak.py                  # PostgreSQL (temporary cluster) and SQLite
    .venv/bin/python bench/bench_dak.py --db postgresql --sessions 1500

Generates its own realistic file, like one large club's half-year: 30 attendance cards of 20 participants
and 2 leaders, 1,500 sessions (Add) over 2026H1 with every participant present (30,000 participations) and
the second leader present every other session (2,250 leader participations), registers of 600 participants
and 60 leaders with valid personal numbers. For each database: migrates an empty database, creates the
municipality (2480), the association and a partner client it authorised, imports a 20-session warm-up file
and runs ANALYZE (a production database has planner statistics), then times, each with its commit:

* ``first import``: the whole file into an empty association (people, cards, facilities, sessions created);
* ``re-import``: the same file again (every session replaced whole, DAK Add with a known ``kod``);
* ``export``: the association's period as a DAK 2.2 file (validated against the schema).

The clock covers :func:`apn.formats.dak.import_dak` from the bytes (safe parse, schema validation, checks,
the one intake with its clash check) plus the commit. Prints one Markdown row per database and phase.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from apn.exports.dak import export_dak_report  # noqa: E402
from apn.extensions import db  # noqa: E402
from apn.formats.dak import NS_22, import_dak  # noqa: E402
from apn.models import Association  # noqa: E402
from apn.services import partners as partner_svc  # noqa: E402
from apn.tenancy import tenant_scope  # noqa: E402
from apn.testing import factories as f  # noqa: E402
from bench.common import bench_database, database_kinds, machine, migrated_app, print_table  # noqa: E402

PARTICIPANTS = 20
LEADERS = 2
CARDS = 30


def make_file(orgnr: str, sessions: int, prefix: str = "S", first_day: dt.date = dt.date(2026, 1, 5)) -> bytes:
    """A DAK 2.2 file of ``sessions`` sessions spread over the cards (one element per line)."""
    out = ['<?xml version="1.0" encoding="utf-8"?>', f'<Aktivitetskort xmlns="{NS_22}">',
           '<Kommun kommunID="2480" version="2.2">',
           f'<Foerening foereningsID="BENCH" foereningsNamn="IK Bänk" organisationsnummer="{orgnr}">']
    per_card = -(-sessions // CARDS)
    n = 0
    for c in range(CARDS):
        if n >= sessions:
            break
        out += [f'<Naervarokort NaervarokortNummer="{100 + c}">', f"<Aktivitet>Sport {c % 7}</Aktivitet>",
                f"<Lokal>Hall {c % 9}</Lokal>", f"<NamnPaaKort>Grupp {c}</NamnPaaKort>", "<Sammankomster>"]
        for k in range(per_card):
            if n >= sessions:
                break
            day = first_day + dt.timedelta(days=(k * 7 // 2) + c % 3)
            hour = 15 + c % 6
            out += [f'<Sammankomst kod="{prefix}-{c}-{k}" Datum="{day.isoformat()}">',
                    f"<StartTid>{hour:02d}:00:00</StartTid>", f"<StoppTid>{hour + 1:02d}:30:00</StoppTid>",
                    f"<Aktivitet>Sport {c % 7}</Aktivitet>", f"<Lokal>Hall {c % 9}</Lokal>",
                    "<Typ>Traening</Typ>", "<Metod>Add</Metod>", "<Lagidrott>true</Lagidrott>", "<DeltagarLista>"]
            for p in range(PARTICIPANTS):
                out.append(f'<Deltagare id="d{c}-{p}"><Handikapp>false</Handikapp>'
                           "<Naervarande>true</Naervarande></Deltagare>")
            out.append("</DeltagarLista><LedarLista>")
            for p in range(LEADERS):
                present = "true" if p == 0 or k % 2 == 0 else "false"
                out.append(f'<Ledare id="l{c}-{p}"><Handikapp>false</Handikapp>'
                           f"<Naervarande>{present}</Naervarande></Ledare>")
            out += ["</LedarLista>", "</Sammankomst>"]
            n += 1
        out += ["</Sammankomster>", "</Naervarokort>"]
    out += ["</Foerening>", "</Kommun>", "<DeltagarRegister>"]
    for c in range(CARDS):
        for p in range(PARTICIPANTS):
            i = c * PARTICIPANTS + p
            pnr = f.make_pnr(dt.date(2008, 1, 1) + dt.timedelta(days=i * 5 % 3600), i, female=bool(i % 2))
            out.append(f'<Deltagare id="d{c}-{p}"><Foernamn>Barn{i}</Foernamn><Efternamn>Bänksson</Efternamn>'
                       f"<Personnummer>{pnr}</Personnummer></Deltagare>")
    out += ["</DeltagarRegister>", "<LedarRegister>"]
    for c in range(CARDS):
        for p in range(LEADERS):
            i = 5000 + c * LEADERS + p
            pnr = f.make_pnr(dt.date(1975, 1, 1) + dt.timedelta(days=i % 9000), i, female=bool(i % 2))
            out.append(f'<Ledare id="l{c}-{p}"><Foernamn>Ledare{i}</Foernamn><Efternamn>Bänk</Efternamn>'
                       f"<Personnummer>{pnr}</Personnummer></Ledare>")
    out += ["</LedarRegister>", "</Aktivitetskort>"]
    return ("\n".join(out) + "\n").encode("utf-8")


def _timed_import(app, tenant_id: int, partner_id: int, xml: bytes) -> tuple[float, dict]:
    with app.app_context():
        started = time.perf_counter()
        report = import_dak(xml, tenant_id=tenant_id, partner_client_id=partner_id, allowed_association_ids=None)
        db.session.commit()
        return time.perf_counter() - started, report.as_dict()


def run(kind: str, sessions: int) -> list[dict]:
    """Set up one database and time the phases; returns the rows."""
    with bench_database(kind, "dak") as bdb:
        pg = bdb.pg
        app = migrated_app(bdb.config, TESTING=False)
        with app.app_context():
            tenant = f.create_tenant(slug="umea", kommunkod="2480", name="Umeå kommun")
            orgnr = f.make_orgnr(31337)
            f.create_association(tenant, name="IK Bänk", orgnr=orgnr)
            with tenant_scope(tenant.id):
                client, _ = partner_svc.create_client("Bench AB")
                partner_svc.authorise(client.client_id, orgnr)
                tenant_id, partner_id = tenant.id, client.id
            db.session.commit()
        xml = make_file(orgnr, sessions)
        _timed_import(app, tenant_id, partner_id, make_file(orgnr, 20, prefix="W", first_day=dt.date(2026, 3, 1)))
        if pg is not None:
            pg.psql("ANALYZE", database="apn_bench")
        rows = []
        for name in ("first import", "re-import"):
            seconds, report = _timed_import(app, tenant_id, partner_id, xml)
            acc = report["accepted"]
            assert report["file"] == acc and not report["refused"], report["refused"][:3]
            rows.append({"db": kind, "phase": name, "seconds": seconds, **acc, "bytes": len(xml)})
        with app.app_context():
            with tenant_scope(tenant_id):
                aid = db.session.execute(db.select(Association.id).where(
                    Association.organisationsnummer == orgnr)).scalar_one()
            started = time.perf_counter()
            exp = export_dak_report(tenant_id, aid, "2026H1")
            seconds = time.perf_counter() - started
        rows.append({"db": kind, "phase": "export", "seconds": seconds, **exp.counts, "bytes": len(exp.xml)})
        for r in rows:
            print(f"  {kind:10} {r['phase']:12} {r['sessions']:6,} sessions {r['participations']:7,} participations "
                  f"{r['leader_participations']:6,} leader participations {r['bytes'] / 1e6:5.1f} MB "
                  f"in {r['seconds']:6.2f} s", flush=True)
        return rows


def main() -> None:
    """Parse arguments, run, print the Markdown table."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--db", choices=["both", "postgresql", "sqlite"], default="both")
    p.add_argument("--sessions", type=int, default=1500)
    args = p.parse_args()
    print(f"DAK benchmark: {machine()}", flush=True)
    rows = [r for k in database_kinds(args.db) for r in run(k, args.sessions)]
    print_table(["database", "phase", "sessions", "participations", "leader participations", "file", "time"],
                [[r["db"], r["phase"], f"{r['sessions']:,}", f"{r['participations']:,}",
                  f"{r['leader_participations']:,}", f"{r['bytes'] / 1e6:.1f} MB", f"{r['seconds']:.2f} s"]
                 for r in rows])


if __name__ == "__main__":
    main()
