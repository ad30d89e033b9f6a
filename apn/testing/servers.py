"""Real servers for tests and benchmarks: a free loopback port, and gunicorn serving the app factory.

Everything listens on 127.0.0.1 only. Settings reach the served app as ``APN_<NAME>`` environment variables,
the way an operator sets them.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def gunicorn(cfg: dict, workers: int, *, env: dict | None = None, args: tuple[str, ...] = (),
             probe: str = "/healthz", start_timeout: float = 120, log_path: str | None = None,
             ) -> Iterator[tuple[str, subprocess.Popen]]:
    """gunicorn with ``workers`` processes on 127.0.0.1 serving ``apn:create_app()`` with ``cfg``.

    Yields ``(url, master process)`` once ``probe`` answers 200; stops the server afterwards. Output goes to
    ``log_path`` when given (else it is inherited).
    """
    port = free_port()
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    environ.update({f"APN_{k}": str(v) for k, v in cfg.items()})
    log = open(log_path, "w") if log_path else None  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}",
         *args, "apn:create_app()"],
        cwd=str(ROOT), env=environ, stdout=log, stderr=subprocess.STDOUT if log else None)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + start_timeout
        while True:
            try:
                if requests.get(url + probe, timeout=30).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError("gunicorn did not start" + (f"; see {log_path}" if log_path else ""))
            time.sleep(0.3)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if log:
            log.close()
