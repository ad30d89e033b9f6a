"""A throw-away PostgreSQL cluster on 127.0.0.1 in a temporary directory (Debian's binaries).

Used by the test suite and the benchmarks. When run as root the server runs as the ``postgres`` system
user (PostgreSQL refuses to run as root). Creates two roles: ``apn_owner`` owns the schema and runs the
migrations; ``apn_app`` is what the application connects as, so row-level security binds it.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

from apn.testing.servers import free_port


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are not installed."""


def find_bindir() -> str:
    """Directory with initdb/pg_ctl: ``APN_PG_BINDIR``, Debian's newest, or PATH."""
    env = os.environ.get("APN_PG_BINDIR")
    if env:
        return env
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    for c in reversed(candidates):
        if os.path.exists(os.path.join(c, "initdb")):
            return c
    initdb = shutil.which("initdb")
    if initdb:
        return os.path.dirname(os.path.realpath(initdb))
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found. Install them with: apt-get install -y postgresql "
        "(or set APN_PG_BINDIR to the directory holding initdb and pg_ctl)."
    )


@dataclass
class TempPostgres:
    """Start with :meth:`start`, stop with :meth:`stop`; URLs for the owner and the app role."""

    database: str = "apn"
    port: int = 0
    root: str = ""
    #: Server settings over the defaults below, applied by the next :meth:`start_server` (e.g.
    #: ``{"synchronous_commit": "on"}`` when a crash must not lose acknowledged commits).
    settings: dict[str, str] = field(default_factory=dict)

    def _run(self, args: list[str], **kw) -> subprocess.CompletedProcess:
        if os.geteuid() == 0:
            args = ["runuser", "-u", "postgres", "--", *args]
        return subprocess.run(args, check=True, capture_output=True, text=True, **kw)

    def start(self) -> TempPostgres:
        bindir = find_bindir()
        self.root = tempfile.mkdtemp(prefix="apn-pg-")
        data = os.path.join(self.root, "data")
        os.mkdir(data)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(data, "postgres", "postgres")
        self.port = free_port()
        self._run([f"{bindir}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                   "--locale=C.UTF-8"])
        self._bindir = bindir
        self.start_server()
        self.psql("CREATE ROLE apn_owner LOGIN CREATEDB; CREATE ROLE apn_app LOGIN;")
        self.create_database(self.database)
        return self

    def start_server(self) -> None:
        """Start the server on the cluster made by :meth:`start` (again, after :meth:`stop_server`)."""
        settings = {"listen_addresses": "127.0.0.1", "fsync": "off", "synchronous_commit": "off",
                    "full_page_writes": "off", "max_connections": "100", "shared_buffers": "256MB",
                    "work_mem": "64MB", **self.settings}
        opts = f"-p {self.port} -k {self.root} " + " ".join(f"-c {k}={v}" for k, v in settings.items())
        self._run([f"{self._bindir}/pg_ctl", "-D", os.path.join(self.root, "data"), "-o", opts, "-l",
                   os.path.join(self.root, "log"), "-w", "start"])

    def stop_server(self, mode: str = "fast") -> None:
        """Stop the server but keep the cluster (an outage): ``fast`` ends every connection and shuts down
        cleanly, ``immediate`` is a crash; :meth:`start_server` brings it back with its data."""
        self._run([f"{self._bindir}/pg_ctl", "-D", os.path.join(self.root, "data"), "-m", mode, "-w", "stop"])

    def restart(self, down_for: float = 0.0, mode: str = "fast") -> None:
        """Stop the server, stay down ``down_for`` seconds, start it again on the same port."""
        self.stop_server(mode)
        time.sleep(down_for)
        self.start_server()

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL as the superuser."""
        out = self._run([f"{self._bindir}/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                         "-p", str(self.port), "-U", "postgres", "-d", database, "-c", sql])
        return out.stdout

    def create_database(self, name: str) -> None:
        """A new empty database owned by ``apn_owner``."""
        self.psql(f'CREATE DATABASE "{name}" OWNER apn_owner')
        self.psql("REVOKE CREATE ON SCHEMA public FROM PUBLIC; GRANT ALL ON SCHEMA public TO apn_owner; "
                  "GRANT USAGE ON SCHEMA public TO apn_app;", database=name)

    def url(self, role: str = "apn_app", database: str | None = None) -> str:
        """SQLAlchemy URL for a role."""
        return f"postgresql+psycopg://{role}@127.0.0.1:{self.port}/{database or self.database}"

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        if not self.root:
            return
        try:
            self._run([f"{self._bindir}/pg_ctl", "-D", os.path.join(self.root, "data"), "-m", "immediate",
                       "-w", "stop"])
        except subprocess.CalledProcessError:
            time.sleep(0.5)
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = ""
