"""Benchmark data: the demo data set at a large scale, written through the one intake.

Usage::

    python -m bench.datagen --database-url sqlite:////tmp/bench.sqlite --participations 2000000
    python -m bench.datagen --database-url postgresql+psycopg://apn_app@127.0.0.1:5432/apn \\
        --migrate-database-url postgresql+psycopg://apn_owner@127.0.0.1:5432/apn --app-role apn_app --scale 8

The schema is migrated first (``flask db upgrade``; on PostgreSQL as the owner given by
``--migrate-database-url``, granting ``--app-role``), then :func:`apn.demo.load_demo` runs at the scale that
gives about the requested number of participations (scale 1.0 ≈ 250,000).
"""

from __future__ import annotations

import argparse
import sys
import time

from apn.demo import DEFAULT_SEED, PARTICIPATIONS_PER_SCALE


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments."""
    p = argparse.ArgumentParser(prog="python -m bench.datagen", description=__doc__.split("\n\n")[0])
    p.add_argument("--database-url", required=True, help="SQLAlchemy URL the app connects with.")
    p.add_argument("--migrate-database-url", default=None,
                   help="PostgreSQL: the schema owner's URL used for the migrations.")
    p.add_argument("--app-role", default=None, help="PostgreSQL: the role the app connects as (granted access).")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--participations", type=int, default=None,
                      help=f"About this many participations ({PARTICIPATIONS_PER_SCALE:,} per unit of scale).")
    size.add_argument("--scale", type=float, default=None, help="Scale of the demo data set (default 1.0).")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--year", type=int, default=None, help="Year of the sessions (default: last year).")
    p.add_argument("--batch-size", type=int, default=1000, help="Sessions per intake call.")
    p.add_argument("--if-empty", action="store_true", help="Do nothing when the demo municipalities exist.")
    args = p.parse_args(argv)
    if args.participations is not None and args.participations <= 0:
        p.error("--participations must be positive")
    if args.scale is not None and args.scale <= 0:
        p.error("--scale must be positive")
    return args


def scale_for(participations: int | None, scale: float | None) -> float:
    """The scale to use: given directly, derived from a number of participations, or 1.0."""
    if scale is not None:
        return scale
    if participations is not None:
        return participations / PARTICIPATIONS_PER_SCALE
    return 1.0


def main(argv: list[str] | None = None) -> int:
    """Migrate, generate, print what was written and how long it took."""
    args = parse_args(argv)
    from flask_migrate import upgrade

    from apn import create_app
    from apn.demo import load_demo
    from apn.errors import DomainError

    config = {"DATABASE_URL": args.database_url}
    if args.migrate_database_url:
        config["MIGRATE_DATABASE_URL"] = args.migrate_database_url
    if args.app_role:
        config["DB_APP_ROLE"] = args.app_role
    app = create_app(config)
    scale = scale_for(args.participations, args.scale)
    with app.app_context():
        t0 = time.perf_counter()
        upgrade()
        print(f"Schema migrated in {time.perf_counter() - t0:.1f} s.")
        try:
            summary = load_demo(if_empty=args.if_empty, scale=scale, seed=args.seed, year=args.year,
                                batch_size=args.batch_size)
        except DomainError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
    if summary.loaded:
        sessions = sum(c["sessions"] for c in summary.tenants.values())
        parts = sum(c["participations"] for c in summary.tenants.values())
        print(f"Wrote {sessions:,} sessions and {parts:,} participations in {summary.seconds:.1f} s "
              f"({parts / max(summary.seconds, 1e-9):,.0f} participations/s through the intake).")
    return 0 if summary.refused == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
