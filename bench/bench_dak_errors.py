"""Benchmark of the DAK schema check on files full of errors (issue 11 item 14).

One command::

    .venv/bin/python bench/bench_dak_errors.py                    # 25,000, 50,000 and 100,000 sessions
    .venv/bin/python bench/bench_dak_errors.py --sessions 45000

Generates files whose every session has three schema errors (a kod too short, a date that does not exist,
a start time that is none), all in one attendance card (the worst case for libxml2's error paths), and
times :func:`apn.formats.dak.parse_dak` on each: safe parse, reading the parts, the schema check with each
error attached to its session. No database is involved: a file like this is refused session by session
before the intake. Prints CPU time (what the check costs) and wall time (what a busy machine adds) as a
Markdown row per size; the time per session should stay flat as the file grows.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from apn.formats.dak import NS_22, parse_dak  # noqa: E402
from bench.common import machine, print_table  # noqa: E402


def invalid_file(sessions: int) -> bytes:
    """A DAK 2.2 file of ``sessions`` sessions with three schema errors each, in one card."""
    out = ['<?xml version="1.0" encoding="utf-8"?>', f'<Aktivitetskort xmlns="{NS_22}">',
           '<Kommun kommunID="2480" version="2.2">',
           '<Foerening foereningsID="F" foereningsNamn="K" organisationsnummer="8020042420">',
           '<Naervarokort NaervarokortNummer="1"><Aktivitet>Fotboll</Aktivitet><Lokal>Hall</Lokal><Sammankomster>']
    out += [f'<Sammankomst kod="S{i % 10}" Datum="2026-13-{i % 28 + 1:02d}"><StartTid>x</StartTid>'
            "<StoppTid>19:30:00</StoppTid><Aktivitet>F</Aktivitet><Lokal>H</Lokal><Typ>Traening</Typ>"
            "<Metod>Add</Metod></Sammankomst>" for i in range(sessions)]
    out.append("</Sammankomster></Naervarokort></Foerening></Kommun></Aktivitetskort>")
    return "\n".join(out).encode("utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, nargs="*", default=[25_000, 50_000, 100_000])
    args = ap.parse_args()
    print(machine())
    rows = []
    for n in args.sessions:
        xml = invalid_file(n)
        cpu, wall = time.process_time(), time.perf_counter()
        parsed = parse_dak(xml)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        errors = sum(len(s.errors) for s in parsed.sessions)
        rows.append([f"{n:,}", f"{len(xml) / 2**20:.1f} MB", f"{errors:,}", f"{cpu:.1f} s", f"{wall:.1f} s",
                     f"{cpu / n * 1e6:.0f} µs"])
    print_table(["invalid sessions", "file", "schema errors", "CPU", "wall", "CPU per session"], rows)


if __name__ == "__main__":
    main()
