"""What the benchmarks share: fixed keys, a throw-away database of either kind, the machine's description."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field

#: Fixed keys, so the benchmarks never touch a developer's instance/ secrets.
KEYS = {"SECRET_KEY": "bench", "PNR_HASH_KEY": "bench-pnr-key",
        "PNR_ENCRYPTION_KEY": "x3pC6mCTcLkq2cXKhYFx1p4qYkYQ3F3Hn0u3ZbqJ1kE="}


@dataclass
class BenchDatabase:
    """A new, empty database: the app settings to reach it, and the PostgreSQL cluster when it is one."""

    kind: str
    config: dict = field(default_factory=dict)
    pg: object | None = None

    def superuser_url(self) -> str:
        """URL for bulk loading around row-level security (PostgreSQL's superuser; SQLite: the file)."""
        return self.pg.url("postgres") if self.pg is not None else self.config["DATABASE_URL"]


@contextlib.contextmanager
def bench_database(kind: str, name: str) -> Iterator[BenchDatabase]:
    """A temporary PostgreSQL cluster on 127.0.0.1 (app role ``apn_app``, owner ``apn_owner``) or a SQLite
    file in a temporary folder; removed afterwards. ``config`` holds the keys and the database settings."""
    tmp = tempfile.mkdtemp(prefix=f"apn-bench-{name}-")
    db = BenchDatabase(kind, dict(KEYS))
    try:
        if kind == "postgresql":
            from apn.testing.postgres import TempPostgres

            db.pg = TempPostgres(database="apn_bench").start()
            db.config.update(DATABASE_URL=db.pg.url("apn_app"), MIGRATE_DATABASE_URL=db.pg.url("apn_owner"),
                             DB_APP_ROLE="apn_app")
        else:
            db.config["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite"
        yield db
    finally:
        if db.pg is not None:
            db.pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def migrated_app(config: dict, **overrides):
    """The app for ``config`` with its database migrated to the newest revision."""
    from flask_migrate import upgrade

    from apn import create_app

    app = create_app({**config, **overrides})
    with app.app_context():
        upgrade()
    return app


def machine() -> str:
    """Date, CPUs, RAM, architecture, Python, the databases' versions and the load, for the record."""
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    try:
        from apn.testing.postgres import find_bindir

        pgv = subprocess.run([f"{find_bindir()}/postgres", "--version"], capture_output=True, text=True,
                             check=False).stdout.strip()
    except Exception:  # noqa: BLE001 - only for the record
        pgv = "PostgreSQL not found"
    return (f"{dt.date.today().isoformat()}, {os.cpu_count()} CPUs, {ram:.0f} GiB RAM, {platform.machine()}, "
            f"Python {platform.python_version()}, {pgv}, SQLite {sqlite3.sqlite_version}, "
            f"load average {os.getloadavg()[0]:.1f}")


def database_kinds(choice: str) -> list[str]:
    """The ``--db`` choice as the list of databases to run: ``both`` is PostgreSQL, then SQLite."""
    return ["postgresql", "sqlite"] if choice == "both" else [choice]


def print_table(headers: list[str], rows: list[list], align: str = "---") -> None:
    """A Markdown table, ready for docs/benchmarks.md."""
    print()
    print("| " + " | ".join(headers) + " |")
    print("| " + " | ".join([align] * len(headers)) + " |")
    for r in rows:
        print("| " + " | ".join(str(c) for c in r) + " |")
