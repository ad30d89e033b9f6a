"""End-to-end probe of issue 11 item 12: the races against gunicorn with four workers on PostgreSQL.

gunicorn serves the app on 127.0.0.1 against the suite's PostgreSQL; threads fire the races many times,
several at once, bounded in count and time: the same session code with the same Idempotency-Key and body,
with the same key and other bodies, with other keys, through the API and a DAK file at once, replaces of
one stored session, and requests creating the same new people. No answer may be a 5xx; every code is stored
once, every new person once, and every replay equals the first answer.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from racekit import (
    dak_file,
    external_ids,
    fire,
    kid_pnr,
    people_named,
    people_with_number,
    person,
    session_body,
    sessions_with_code,
)

from bench.bench_ingest import serving
from tests.api.conftest import make_partner
from tests.conftest import KEYS

pytestmark = pytest.mark.postgresql

WORKERS = 4
RACES = 60  # races in all, at most
AT_ONCE = 3  # races running at the same time
WIDTH = 4  # requests per race
BUDGET = 15.0  # seconds of racing, at most (every kind of race runs at least once)


class Probe:
    """One partner's races against a server; what each race should have left behind."""

    def __init__(self, url: str, partner) -> None:
        self.url, self.p = url, partner
        self.answers: list[requests.Response] = []
        self.codes: list[str] = []  # each stored exactly once
        self.numbers: list[str] = []  # each a person exactly once
        self.named: list[tuple[str, str]] = []  # (first, last): each a person exactly once
        self.ext_ids: list[str] = []  # each mapped exactly once
        self.replays_equal = True
        self._lock = threading.Lock()
        self._n = itertools.count(1)

    def _put(self, kod: str, body: dict, key: str | None = None) -> Callable[[], requests.Response]:
        headers = {**self.p.headers, **({"Idempotency-Key": key} if key else {})}
        return lambda: requests.put(f"{self.url}/api/v1/sessions/{kod}", json=body, headers=headers, timeout=60)

    def _kids(self, k: int = 3) -> list[dict]:
        return [person(kid_pnr(next(self._n))) for _ in range(k)]

    def _keep(self, answers: list[requests.Response], **expect) -> None:
        with self._lock:
            self.answers += answers
            for name, values in expect.items():
                getattr(self, name).extend(values)

    def same_key_same_body(self, i: int) -> None:
        kod, body = f"P-SAME-{i}", session_body(self.p.orgnr, self._kids())
        answers = fire([self._put(kod, body, key=f"probe-same-{i}") for _ in range(WIDTH)])
        ok = [a for a in answers if a.status_code == 201]
        if len(ok) != WIDTH or any(a.json() != ok[0].json() for a in ok):
            self.replays_equal = False
        self._keep(answers, codes=[kod])

    def same_key_other_body(self, i: int) -> None:
        kod = f"P-OTHER-{i}"
        bodies = [session_body(self.p.orgnr, self._kids(), stop=f"19:{30 + j}") for j in range(WIDTH)]
        self._keep(fire([self._put(kod, b, key=f"probe-other-{i}") for b in bodies]), codes=[kod])

    def other_keys(self, i: int) -> None:
        kod = f"P-KEYS-{i}"
        calls = [self._put(kod, session_body(self.p.orgnr, self._kids()), key=f"probe-keys-{i}-{j}" if j else None)
                 for j in range(WIDTH)]
        self._keep(fire(calls), codes=[kod])

    def api_and_dak(self, i: int) -> None:
        kod, pnrs = f"P-DAK-{i}", [kid_pnr(next(self._n)) for _ in range(3)]
        xml = dak_file(self.p.orgnr, kod, pnrs)
        headers = {**self.p.headers, "Content-Type": "application/xml"}
        dak = lambda: requests.post(f"{self.url}/api/v1/dak", data=xml, headers=headers, timeout=60)  # noqa: E731
        api = self._put(kod, session_body(self.p.orgnr, [person(n) for n in pnrs]))
        self._keep(fire([api, dak, api, dak]), codes=[kod], numbers=pnrs)

    def replace(self, i: int) -> None:
        kod = f"P-REPL-{i}"
        first = self._put(kod, session_body(self.p.orgnr, self._kids()))()
        calls = [self._put(kod, session_body(self.p.orgnr, self._kids(2 + j))) for j in range(WIDTH)]
        self._keep([first, *fire(calls)], codes=[kod])

    def new_people(self, i: int) -> None:
        pnr, named, ext = kid_pnr(next(self._n)), {"first": f"Ny{i}", "last": "Probe", "birth": "2013-02-03"}, \
            f"probe-ext-{i}"
        calls = [self._put(f"P-NEW-{i}-{j}", session_body(self.p.orgnr, [
            person(pnr), person(**named), person(kid_pnr(next(self._n)), ext=ext)])) for j in range(WIDTH)]
        calls[-1] = lambda: requests.put(f"{self.url}/api/v1/associations/{self.p.orgnr}/people/{ext}",
                                         json={"personnummer": pnr, "first_name": "Alva", "last_name": "Berg"},
                                         headers=self.p.headers, timeout=60)
        self._keep(fire(calls), codes=[f"P-NEW-{i}-{j}" for j in range(WIDTH - 1)], numbers=[pnr],
                   named=[(named["first"], named["last"])], ext_ids=[ext])


def test_races_against_gunicorn_give_no_500_and_store_nothing_twice(app, postgres):
    partner = make_partner(app)
    cfg = {"DATABASE_URL": postgres.url("apn_app"), "MIGRATE_DATABASE_URL": postgres.url("apn_owner"),
           "DB_APP_ROLE": "apn_app", **KEYS}
    with serving(cfg, WORKERS) as url:
        r = requests.put(f"{url}/api/v1/associations/{partner.orgnr}/groups/1", json={"name": "P13"},
                         headers=partner.headers, timeout=30)
        assert r.status_code in (200, 201), r.text
        probe = Probe(url, partner)
        kinds = [probe.same_key_same_body, probe.same_key_other_body, probe.other_keys, probe.api_and_dak,
                 probe.replace, probe.new_people]
        deadline = time.monotonic() + BUDGET

        def race(i: int) -> bool:
            if i >= len(kinds) and time.monotonic() > deadline:
                return False
            kinds[i % len(kinds)](i)
            return True

        with ThreadPoolExecutor(AT_ONCE) as pool:
            ran = sum(pool.map(race, range(RACES)))

    assert ran >= len(kinds)
    errors = [f"{a.request.method} {a.request.url} -> {a.status_code}: {a.text[:200]}" for a in probe.answers
              if a.status_code >= 500]
    assert not errors, errors
    assert probe.replays_equal
    doubled = [k for k in probe.codes if sessions_with_code(app, partner.tenant_id, k) != 1]
    doubled += [f"person {n[:8]}…" for n in probe.numbers if people_with_number(app, partner.tenant_id, n) != 1]
    doubled += [f"person {f} {ln}" for f, ln in probe.named if people_named(app, partner.tenant_id, f, ln) != 1]
    doubled += [f"mapping {e}" for e in probe.ext_ids if external_ids(app, partner.tenant_id, e) != 1]
    assert not doubled, doubled
    assert {a.status_code for a in probe.answers} <= {200, 201, 409, 422}
