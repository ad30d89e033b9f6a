"""DAK files parsed by several threads at once each get their own schema errors (issue 11 item 12).

A schema object keeps the errors of its last check in its own ``error_log``; shared by the server's threads,
one file read another's errors: a file refused whole with 422 ("outside any session") or an invalid session
passed as clean. Each file must come back exactly as it does when parsed alone.
"""

from __future__ import annotations

import threading

from racekit import dak_file, kid_pnr

from apn.formats.dak.parser import NS_21, NS_22, DakFileError, parse_dak

THREADS = 4
FILES = 150


def _variants(t: int, i: int) -> bytes:
    """A file of one of four kinds: a card without Lokal, a session without Lokal, a valid one, a 2.1 one."""
    kind = (t + i) % 4
    xml = dak_file("8020021401", f"T-{t}-{i}", [kid_pnr(t * FILES + i)], card=str(90 + i % 7),
                   card_lokal=kind != 0, session_lokal=kind != 1)
    if kind == 3:
        xml = xml.replace(NS_22.encode(), NS_21.encode()).replace(b'version="2.2"', b'version="2.1"')
    return xml


def _outcome(xml: bytes) -> tuple:
    try:
        f = parse_dak(xml)
    except DakFileError as exc:
        return ("file", str(exc))
    return tuple((tuple(s.errors), tuple(s.card.errors), tuple(s.card.association.errors)) for s in f.sessions)


def test_files_parsed_at_once_get_their_own_schema_errors():
    files = {(t, i): _variants(t, i) for t in range(THREADS) for i in range(FILES)}
    alone = {k: _outcome(x) for k, x in files.items()}
    assert {len(v[0][1]) > 0 for k, v in alone.items() if (k[0] + k[1]) % 4 == 0} == {True}  # card refused
    assert {v[0] for k, v in alone.items() if (k[0] + k[1]) % 4 >= 2} == {((), (), ())}  # valid files
    at_once: dict = {}
    barrier = threading.Barrier(THREADS)

    def run(t: int) -> None:
        barrier.wait(30)
        for i in range(FILES):
            at_once[(t, i)] = _outcome(files[(t, i)])

    threads = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    wrong = [(k, alone[k], at_once.get(k)) for k in files if at_once.get(k) != alone[k]]
    assert not wrong, f"{len(wrong)} of {len(files)} files read other files' errors, e.g. {wrong[:2]}"
