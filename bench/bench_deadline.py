"""Deadline day: load and faults against gunicorn on PostgreSQL, then a check that nothing was lost or doubled.

One command::

    .venv/bin/python bench/bench_deadline.py                       # 10 minutes
    .venv/bin/python bench/bench_deadline.py --duration 120         # a short run

Generates its own data in a throw-away PostgreSQL cluster on 127.0.0.1 (one municipality, 2480): ``--leaders``
groups in associations of six, each with a roster of 12 children (every sixth child also on the next group's
roster, so some sessions clash) and one leader who may report for it; ``--partners`` partner systems, each
authorised by an association of its own with five cards; ``--officers`` grant officers. Serves the app with
gunicorn (``--workers``, 127.0.0.1) and plays, for ``--duration`` seconds:

* leaders: each signs in once, then saves an attendance (yesterday's training, one per day back from the
  deadline) through the app's endpoint ``POST /k/<slug>/app/sessions`` as ``app.js`` does: a fresh CSRF token,
  one ``Idempotency-Key`` per attendance kept over every resend; 503/429 are waited out as ``Retry-After``
  says, other failures (no connection, 409, other 5xx) tried again after 2 s doubling to 30 s; think time
  between attendances exponential with mean ``--think``. A pool of ``--leader-threads`` threads serves them.
* partners (one thread each, through ``integrations/apn_client``): alternately a bulk request of
  ``--bulk`` sessions (20 children and a leader, personal numbers inline, some children shared with the
  leaders' groups) and a DAK file of 20 sessions; a push the client gives up on is sent again, same codes.
* officers (one thread each): the association, sessions, grant and partner pages in turn, a page every 2 s.

Faults: at ``--restart-at`` (fraction of the duration) PostgreSQL is stopped as a crash (``immediate``; the
cluster runs ``synchronous_commit=on`` so an acknowledged commit survives it), kept down ``--down-for``
seconds and started again; at ``--kill-at`` one gunicorn worker is killed with SIGKILL (the master starts a
new one). After the duration the clients finish what they hold (at most ``--drain`` seconds), then:

1. every session any client saw acknowledged is stored, exactly once (app: by the returned id and by group,
   date and time; partners: by code);
2. no client saw a 5xx other than a 503 with ``Retry-After`` while the database was down (from the stop to
   1 s after the start);
3. the store is consistent: every attendance's span equals its session's, no duplicate session, every clash
   flag points at existing sessions, and every open overlap flag at sessions that still overlap and in which
   its person still takes part.

Prints throughput, p50/p95/p99 latency per kind of request, the recovery times and the checks as Markdown,
and the lines of the gunicorn log with a traceback or status 500; exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import heapq
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from apn.extensions import db  # noqa: E402
from apn.formats.dak import NS_22  # noqa: E402
from apn.identity import encrypt_pnr, parse_personnummer, pnr_hash  # noqa: E402
from apn.models import Group, GroupMember, Person, User  # noqa: E402
from apn.services import accounts  # noqa: E402
from apn.services import partners as partner_svc  # noqa: E402
from apn.tenancy import tenant_scope  # noqa: E402
from apn.testing import factories as f  # noqa: E402
from apn.testing.servers import gunicorn  # noqa: E402
from bench.common import bench_database, machine, migrated_app, print_table  # noqa: E402
from integrations.apn_client import ApiError, ApnClient  # noqa: E402

SLUG = "deadline"
PASSWORD = "deadline day password"
KIDS = 12
PARTNER_CARDS = 5
PARTNER_KIDS = 120
DAK_SESSIONS = 20


# --- data ---------------------------------------------------------------------------------------------------

@dataclass
class LeaderSpec:
    """One leader: the account, the group, the roster's person ids."""

    email: str
    group_id: int
    kids: list[int]
    leader: int


@dataclass
class PartnerSpec:
    """One partner: credentials, the authorising association, its card numbers."""

    index: int
    client_id: str
    secret: str
    orgnr: str
    partner_row_id: int


@dataclass
class World:
    """What the clients need."""

    tenant_id: int
    leaders: list[LeaderSpec]
    partners: list[PartnerSpec]
    officers: list[str]
    association_ids: list[int]
    shared_kids: list[tuple[str, str]] = field(default_factory=list)  # (partner person id, personal number)


def _person(tenant_id: int, born_from: dt.date, serial: int, female: bool, first: str, last: str
            ) -> tuple[Person, str]:
    """A person with a personal number unique per ``serial`` (one birth date per serial within 4,000 days)."""
    pnr = f.make_pnr(born_from + dt.timedelta(days=serial % 4000), serial // 4000, female)
    pn = parse_personnummer(pnr)
    p = Person(tenant_id=tenant_id, first_name=first, last_name=last, birth_date=pn.birth_date, sex=pn.sex,
               pnr_hash=pnr_hash(pn.number), pnr_encrypted=encrypt_pnr(pn.number))
    db.session.add(p)
    return p, pn.number


def build_world(app, leaders: int, partners: int, officers: int) -> World:
    """The municipality, its associations, groups, rosters, accounts and partners (committed)."""
    from apn.auth import hash_password

    with app.app_context():
        t = f.create_tenant(slug=SLUG, kommunkod="2480", name="Deadline kommun", ruleset="lok-2023")
        one_hash = hash_password(PASSWORD)  # one argon2 hash serves every account, as the demo does
        world = World(t.id, [], [], [], [])
        with tenant_scope(t.id):
            assocs = [f.create_association(t, name=f"IF Deadline {a}", orgnr=f.make_orgnr(7000 + a))
                      for a in range(-(-leaders // 6))]
            world.association_ids = [a.id for a in assocs]
            fac = f.create_facility(t, name="Storhallen")
            groups = [Group(tenant_id=t.id, association_id=assocs[g // 6].id, name=f"Grupp {g}",
                            main_facility_id=fac.id, main_activity="Fotboll") for g in range(leaders)]
            db.session.add_all(groups)
            db.session.flush()
            kids: list[list[Person]] = []
            leads: list[Person] = []
            serial = 0
            for g in range(leaders):
                row = []
                for k in range(KIDS):
                    serial += 1
                    p, pnr = _person(t.id, dt.date(2009, 1, 1), serial, bool(serial % 2), f"Barn{serial}",
                                     "Deadline")
                    row.append(p)
                    if k == 0 and g % 4 == 0:
                        world.shared_kids.append((f"LK{serial}", pnr))
                kids.append(row)
                serial += 1
                leads.append(_person(t.id, dt.date(1970, 1, 1), serial, bool(serial % 2), f"Ledare{serial}",
                                     "Deadline")[0])
            db.session.flush()
            members = []
            for g, group in enumerate(groups):
                roster = kids[g] + ([kids[g + 1][0]] if g % 6 == 0 and g + 1 < leaders else [])
                members += [GroupMember(tenant_id=t.id, group_id=group.id, person_id=p.id, role="participant")
                            for p in roster]
                members.append(GroupMember(tenant_id=t.id, group_id=group.id, person_id=leads[g].id,
                                           role="leader"))
            db.session.add_all(members)
            db.session.flush()
            for g, group in enumerate(groups):
                email = f"ledare{g}@deadline.example"
                user = User(email=email, name=f"Ledare {g}", active=True, password_hash=one_hash)
                db.session.add(user)
                db.session.flush()
                accounts.grant_role(user, "reporter", group_id=group.id)
                roster = kids[g] + ([kids[g + 1][0]] if g % 6 == 0 and g + 1 < leaders else [])
                world.leaders.append(LeaderSpec(email, group.id, [p.id for p in roster], leads[g].id))
            for o in range(officers):
                email = f"handlaggare{o}@deadline.example"
                user = User(email=email, name=f"Handläggare {o}", active=True, password_hash=one_hash)
                db.session.add(user)
                db.session.flush()
                # No officer pages exist yet: officers read what they review, the associations' pages and
                # the partner register, with the rights those pages ask for.
                accounts.grant_role(user, "grant_officer")
                accounts.grant_role(user, "tenant_admin")
                for a in assocs:
                    accounts.grant_role(user, "association_admin", association_id=a.id)
                world.officers.append(email)
            for p in range(partners):
                orgnr = f.make_orgnr(8000 + p)
                assoc = f.create_association(t, name=f"Partnerklubben {p}", orgnr=orgnr)
                client, secret = partner_svc.create_client(f"KlubbSystem {p}")
                partner_svc.authorise(client.client_id, orgnr)
                db.session.add_all([Group(tenant_id=t.id, association_id=assoc.id, name=f"Lag {c}",
                                          partner_client_id=client.id, partner_card_number=str(c))
                                    for c in range(PARTNER_CARDS)])
                db.session.flush()
                world.partners.append(PartnerSpec(p, client.client_id, secret, orgnr, client.id))
        db.session.commit()
        return world


def _span(today: dt.date) -> int:
    """Days of the half-year before today."""
    return max((today - dt.date(today.year, 7 if today.month > 6 else 1, 1)).days - 1, 1)


def session_day(k: int, today: dt.date) -> dt.date:
    """The k-th attendance's date: yesterday, then one day further back each time (never before the
    half-year's first day)."""
    return today - dt.timedelta(days=1 + k % _span(today))


def slot(k: int, first_hour: int, today: dt.date) -> tuple[dt.date, str, str]:
    """The k-th session of a card: one a day back through the half-year, then an hour later, so a card
    never has two sessions at once (a partner's own double reports would swamp the clash flags)."""
    hour = first_hour + (k // _span(today)) % 4
    return session_day(k, today), f"{hour:02d}:00", f"{hour + 1:02d}:00"


# --- measurements -------------------------------------------------------------------------------------------

@dataclass
class Hit:
    """One HTTP exchange a client saw (or a connection that failed: status 0)."""

    kind: str
    started: float
    seconds: float
    status: int
    retry_after: str | None = None
    detail: str = ""


class Record:
    """Every exchange and every acknowledgement, from all threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.hits: list[Hit] = []
        self.app_acks: dict[str, dict] = {}  # Idempotency-Key -> {session_id, group_id, date, start}
        self.partner_acks: dict[tuple[int, str], int] = defaultdict(int)  # (partner row id, kod) -> times
        self.refusals: list[str] = []
        self.gave_up: list[str] = []  # logical requests the partner client gave up on (sent again later)
        self.events: dict[str, float] = {}
        self.participations = 0

    def hit(self, kind: str, started: float, seconds: float, status: int, retry_after: str | None = None,
            detail: str = "") -> None:
        """Note one exchange."""
        with self.lock:
            self.hits.append(Hit(kind, started, seconds, status, retry_after, detail))

    def event(self, name: str) -> None:
        """Note when something happened."""
        with self.lock:
            self.events[name] = time.monotonic()


def _timed(rec: Record, kind: str, fn, *args, **kw) -> requests.Response | None:
    started = time.monotonic()
    try:
        resp = fn(*args, **kw)
    except requests.RequestException as exc:
        rec.hit(kind, started, time.monotonic() - started, 0, detail=type(exc).__name__)
        return None
    rec.hit(kind, started, time.monotonic() - started, resp.status_code, resp.headers.get("Retry-After"),
            resp.text[:200] if resp.status_code >= 500 else "")
    return resp


def _retry_after(resp: requests.Response | None) -> float | None:
    if resp is None or resp.status_code not in (429, 503):
        return None
    value = (resp.headers.get("Retry-After") or "").strip()
    return float(value) if value.isdigit() else None


def _csrf_from(html: str) -> str:
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or \
        re.search(r'value="([^"]+)"[^>]*name="csrf_token"', html)
    if not m:
        raise RuntimeError("no csrf_token on the sign-in page")
    return m.group(1)


def sign_in(http: requests.Session, base: str, email: str, rec: Record, kind: str) -> requests.Response | None:
    """The sign-in form, as a browser sends it; the response of the POST (302 when signed in)."""
    page = _timed(rec, kind, http.get, f"{base}/login", timeout=60)
    if page is None or page.status_code != 200:
        return page
    return _timed(rec, kind, http.post, f"{base}/login", timeout=60, allow_redirects=False,
                  data={"email": email, "password": PASSWORD, "csrf_token": _csrf_from(page.text)})


# --- leaders ------------------------------------------------------------------------------------------------

@dataclass
class Leader:
    """A simulated leader with a phone: the session cookie, the outbox of one attendance, the next due time."""

    spec: LeaderSpec
    http: requests.Session = field(default_factory=requests.Session)
    signed_in: bool = False
    k: int = 0
    pending: dict | None = None
    backoff: float = 0.0


class Leaders:
    """A bounded pool of threads serving many simulated leaders from one schedule."""

    def __init__(self, base: str, specs: list[LeaderSpec], rec: Record, threads: int, think: float,
                 stop_new: threading.Event, today: dt.date, rng: random.Random) -> None:
        self.base = base
        self.rec = rec
        self.think = think
        self.stop_new = stop_new
        self.today = today
        self.rng = rng
        self.heap: list[tuple[float, int, Leader]] = []
        self.cv = threading.Condition()
        self.seq = 0
        self.done = threading.Event()
        now = time.monotonic()
        for s in specs:  # arrivals spread over the first think time
            self._push(now + rng.uniform(0, think), Leader(s))
        self.threads = [threading.Thread(target=self._work, daemon=True) for _ in range(threads)]

    def _push(self, due: float, leader: Leader) -> None:
        with self.cv:
            self.seq += 1
            heapq.heappush(self.heap, (due, self.seq, leader))
            self.cv.notify()

    def start(self) -> None:
        """Start the threads."""
        for t in self.threads:
            t.start()

    def pending(self) -> int:
        """Attendances saved on phones, not yet acknowledged."""
        with self.cv:
            return sum(1 for _, _, lead in self.heap if lead.pending is not None)

    def finish(self, drain: float) -> None:
        """Stop taking new attendances; wait until every one held is acknowledged (at most ``drain`` s)."""
        self.stop_new.set()
        deadline = time.monotonic() + drain
        while time.monotonic() < deadline and self.pending():
            time.sleep(0.5)
        self.done.set()
        with self.cv:
            self.cv.notify_all()
        for t in self.threads:
            t.join(timeout=30)

    def _work(self) -> None:
        while not self.done.is_set():
            with self.cv:
                while not self.done.is_set():
                    if self.heap and self.heap[0][0] <= time.monotonic():
                        _, _, leader = heapq.heappop(self.heap)
                        break
                    self.cv.wait(timeout=min(0.5, self.heap[0][0] - time.monotonic()) if self.heap else 0.5)
                else:
                    return
            if self.stop_new.is_set() and leader.pending is None:
                continue  # done for the day
            try:
                wait = self._step(leader)
            except Exception as exc:  # noqa: BLE001 - a bench bug must not stop the thread; it is reported
                self.rec.refusals.append(f"leader step error: {type(exc).__name__}: {exc}")
                wait = 5.0
            self._push(time.monotonic() + wait, leader)

    def _again(self, leader: Leader, resp: requests.Response | None) -> float:
        """Seconds to wait before the next try: the server's Retry-After, else 2 s doubling to 30 s."""
        server = _retry_after(resp)
        leader.backoff = min(leader.backoff * 2 if leader.backoff else 2.0, 30.0)
        return server if server is not None else leader.backoff

    def _step(self, leader: Leader) -> float:
        """One visit: sign in if needed, take an attendance if none is waiting, send it; the next wait."""
        base, rec = self.base, self.rec
        if not leader.signed_in:
            resp = sign_in(leader.http, base, leader.spec.email, rec, "leader sign-in")
            if resp is None or resp.status_code != 302:
                return self._again(leader, resp)
            leader.signed_in = True
        if leader.pending is None:
            day = session_day(leader.k, self.today)
            leader.k += 1
            kids = leader.spec.kids
            present = [p for i, p in enumerate(kids) if (i + leader.k) % 5]
            leader.pending = {"key": str(uuid.uuid4()), "body": json.dumps({
                "group_id": leader.spec.group_id, "date": day.isoformat(), "start": "18:00", "stop": "19:30",
                "facility_id": None, "session_type": "Traening", "present": present,
                "leaders": [leader.spec.leader], "temporary_leaders": [], "disabled": [], "new_people": [],
                "taken_at": dt.datetime.now(dt.UTC).isoformat()}), "group_id": leader.spec.group_id,
                "date": day.isoformat(), "people": len(present) + 1}
        tok = _timed(rec, "leader csrf", leader.http.get, f"{base}/k/{SLUG}/app/csrf", timeout=60,
                     headers={"Accept": "application/json"})
        if tok is not None and tok.status_code == 401:
            leader.signed_in = False
            return 1.0
        if tok is None or tok.status_code != 200:
            return self._again(leader, tok)
        item = leader.pending
        resp = _timed(rec, "leader save", leader.http.post, f"{base}/k/{SLUG}/app/sessions", timeout=60,
                      data=item["body"], headers={"Content-Type": "application/json", "Accept": "application/json",
                                                  "Idempotency-Key": item["key"],
                                                  "X-CSRFToken": tok.json()["csrf_token"]})
        if resp is not None and resp.status_code in (200, 201):
            data = resp.json()
            with rec.lock:
                rec.app_acks[item["key"]] = {"session_id": data["session_id"], "group_id": item["group_id"],
                                             "date": item["date"], "at": time.monotonic(),
                                             "replayed": resp.headers.get("Idempotent-Replayed") == "true"}
                rec.participations += item["people"]
            leader.pending = None
            leader.backoff = 0.0
            return self.rng.expovariate(1 / self.think)
        if resp is not None and resp.status_code == 401:
            leader.signed_in = False
            return 1.0
        if resp is not None and resp.status_code in (403, 404, 422):
            rec.refusals.append(f"app {resp.status_code}: {resp.text[:300]}")
            leader.pending = None
            return self.rng.expovariate(1 / self.think)
        return self._again(leader, resp)


# --- partners -----------------------------------------------------------------------------------------------

def _hook(rec: Record, kind_of):
    def hook(resp: requests.Response, *args, **kwargs) -> None:
        seconds = resp.elapsed.total_seconds()
        rec.hit(kind_of(resp.request), time.monotonic() - seconds, seconds, resp.status_code,
                resp.headers.get("Retry-After"), resp.text[:200] if resp.status_code >= 500 else "")
    return hook


def _partner_kind(req: requests.PreparedRequest) -> str:
    url = req.url or ""
    if url.endswith("/auth/token"):
        return "partner token"
    if url.endswith("/dak"):
        return "partner DAK"
    return "partner bulk"


def bulk_items(spec: PartnerSpec, n: int, first: int, today: dt.date, shared: list[tuple[str, str]],
               rng: random.Random) -> list[dict]:
    """``n`` sessions with codes ``B<partner>-<first + i>``: 20 children (two of them from the leaders' groups)
    and a leader, personal numbers inline."""
    items = []
    for i in range(first, first + n):
        card = i % PARTNER_CARDS
        # Partner 0 trains when the leaders do (18:00), so the shared children clash; the others earlier.
        day, start, stop = slot(i // PARTNER_CARDS, 18 if spec.index == 0 else 6 + spec.index % 8, today)
        kids = [(f"K{spec.index}-{(card * 20 + k) % PARTNER_KIDS}", card * 20 + k) for k in range(18)]
        marks = []
        for pid, n_ in kids:
            serial = 50_000 + spec.index * 1000 + n_
            marks.append({"person_id": pid, "present": True,
                          "personnummer": f.make_pnr(dt.date(2011, 1, 1) + dt.timedelta(days=serial % 2500), serial,
                                                     bool(serial % 2))})
        for pid, pnr in rng.sample(shared, 2):
            marks.append({"person_id": pid, "present": True, "personnummer": pnr})
        serial = 90_000 + spec.index * 10 + card
        lead = {"person_id": f"L{spec.index}-{card}", "present": True,
                "personnummer": f.make_pnr(dt.date(1979, 3, 1) + dt.timedelta(days=serial % 4000), serial, False)}
        items.append({"kod": f"B{spec.index}-{i}", "method": "add", "organisationsnummer": spec.orgnr,
                      "card_number": str(card), "date": day.isoformat(), "start_time": start,
                      "stop_time": stop, "type": "Traening", "activity": "Fotboll",
                      "participants": marks, "leaders": [lead]})
    return items


def dak_file(spec: PartnerSpec, n: int, first: int, today: dt.date) -> tuple[bytes, list[str]]:
    """A DAK 2.2 file of ``n`` sessions (codes ``D<partner>-<first + i>``) on two cards, and its codes."""
    codes = [f"D{spec.index}-{i}" for i in range(first, first + n)]
    out = ['<?xml version="1.0" encoding="utf-8"?>', f'<Aktivitetskort xmlns="{NS_22}">',
           '<Kommun kommunID="2480" version="2.2">',
           f'<Foerening foereningsID="P{spec.index}" foereningsNamn="Partnerklubben {spec.index}" '
           f'organisationsnummer="{spec.orgnr}">']
    for card in (0, 1):
        out += [f'<Naervarokort NaervarokortNummer="{900 + card}">', "<Aktivitet>Innebandy</Aktivitet>",
                "<Lokal>Lillhallen</Lokal>", f"<NamnPaaKort>DAK-lag {card}</NamnPaaKort>", "<Sammankomster>"]
        for j, kod in enumerate(codes):
            if j % 2 != card:
                continue
            day, start, stop = slot((first + j) // 2, 14 + card * 4, today)
            out += [f'<Sammankomst kod="{kod}" Datum="{day.isoformat()}">', f"<StartTid>{start}:00</StartTid>",
                    f"<StoppTid>{stop}:00</StoppTid>", "<Aktivitet>Innebandy</Aktivitet>", "<Lokal>Lillhallen</Lokal>",
                    "<Typ>Traening</Typ>", "<Metod>Add</Metod>", "<Lagidrott>true</Lagidrott>", "<DeltagarLista>"]
            out += [f'<Deltagare id="d{card}-{k}"><Handikapp>false</Handikapp><Naervarande>true</Naervarande>'
                    "</Deltagare>" for k in range(15)]
            out += ["</DeltagarLista><LedarLista>",
                    f'<Ledare id="l{card}"><Handikapp>false</Handikapp><Naervarande>true</Naervarande></Ledare>',
                    "</LedarLista>", "</Sammankomst>"]
        out += ["</Sammankomster>", "</Naervarokort>"]
    out += ["</Foerening>", "</Kommun>", "<DeltagarRegister>"]
    for card in (0, 1):
        for k in range(15):
            serial = 70_000 + spec.index * 100 + card * 20 + k
            pnr = f.make_pnr(dt.date(2010, 6, 1) + dt.timedelta(days=serial % 2500), serial, bool(k % 2))
            out.append(f'<Deltagare id="d{card}-{k}"><Foernamn>Dak{serial}</Foernamn><Efternamn>Deadline'
                       f"</Efternamn><Personnummer>{pnr}</Personnummer></Deltagare>")
    out += ["</DeltagarRegister>", "<LedarRegister>"]
    for card in (0, 1):
        serial = 95_000 + spec.index * 10 + card
        pnr = f.make_pnr(dt.date(1978, 2, 1) + dt.timedelta(days=serial % 4000), serial, False)
        out.append(f'<Ledare id="l{card}"><Foernamn>DakLedare{serial}</Foernamn><Efternamn>Deadline</Efternamn>'
                   f"<Personnummer>{pnr}</Personnummer></Ledare>")
    out += ["</LedarRegister>", "</Aktivitetskort>"]
    return ("\n".join(out) + "\n").encode("utf-8"), codes


def partner_loop(base: str, spec: PartnerSpec, rec: Record, world: World, args, stop: threading.Event,
                 today: dt.date, seed: int) -> None:
    """Push bulk requests and DAK files until ``stop``; a push the client gave up on is sent again."""
    rng = random.Random(seed)
    http = requests.Session()
    http.hooks["response"].append(_hook(rec, _partner_kind))
    client = ApnClient(base, spec.client_id, spec.secret, session=http, timeout=120, max_retries=8)
    n = 0
    time.sleep(rng.uniform(0, args.partner_think))
    while not stop.is_set():
        dak = n % 2 == 1
        if dak:
            xml, codes = dak_file(spec, DAK_SESSIONS, (n // 2) * DAK_SESSIONS, today)
        else:
            items = bulk_items(spec, args.bulk, (n // 2) * args.bulk, today, world.shared_kids, rng)
        for _attempt in range(20):  # the same push again (same codes) until it is acknowledged
            try:
                if dak:
                    report = client.upload_dak(xml)
                    refused = {r.get("kod") for r in report.get("refused", [])}
                    acked = [c for c in codes if c not in refused]
                    parts = report["accepted"]["participations"] + report["accepted"]["leader_participations"]
                    if refused:
                        rec.refusals.append(f"DAK refused {len(refused)}: {report['refused'][:2]}")
                else:
                    result = client.bulk_sessions(items)
                    acked = [a["kod"] for a in result.accepted]
                    parts = result.totals.get("participations", 0) + result.totals.get("leader_participations", 0)
                    if result.refused:
                        rec.refusals.append(f"bulk refused {len(result.refused)}: {result.refused[:2]}")
                with rec.lock:
                    for kod in acked:
                        rec.partner_acks[(spec.partner_row_id, kod)] += 1
                    rec.participations += parts
                break
            except ApiError as exc:
                if 400 <= exc.status < 500 and exc.status not in (409, 429):
                    rec.refusals.append(f"partner {exc.status}: {exc.message[:200]}")
                    break
                with rec.lock:
                    rec.gave_up.append(f"partner {spec.index}: {exc.status} {exc.message[:100]}")
                time.sleep(5)
        n += 1
        stop.wait(rng.expovariate(1 / args.partner_think))


# --- officers -----------------------------------------------------------------------------------------------

def officer_loop(base: str, email: str, world: World, rec: Record, stop: threading.Event, seed: int) -> None:
    """Read pages every 2 s (waiting out 503/429 as the server says) until ``stop``."""
    rng = random.Random(seed)
    http = requests.Session()
    signed_in = False
    n = 0
    time.sleep(rng.uniform(0, 2))
    while not stop.is_set():
        if not signed_in:
            resp = sign_in(http, base, email, rec, "officer sign-in")
            signed_in = resp is not None and resp.status_code == 302
            if not signed_in:
                stop.wait(_retry_after(resp) or 2.0)
                continue
        aid = world.association_ids[n % len(world.association_ids)]
        path = [f"/k/{SLUG}/associations/{aid}/sessions", f"/k/{SLUG}/associations/{aid}/grant",
                f"/k/{SLUG}/associations/{aid}", f"/k/{SLUG}/admin/partners"][n % 4]
        n += 1
        resp = _timed(rec, "officer page", http.get, base + path, timeout=60)
        if resp is not None and resp.status_code in (401, 302):
            signed_in = False
        elif resp is not None and resp.status_code >= 400 and resp.status_code not in (429, 503):
            rec.refusals.append(f"officer {resp.status_code} on {path}")
        stop.wait(_retry_after(resp) or rng.uniform(1.5, 2.5))


# --- the server and the faults ------------------------------------------------------------------------------

@contextlib.contextmanager
def serving(cfg: dict, workers: int, log_path: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """gunicorn on 127.0.0.1 with the app factory, its output in ``log_path``; yields (URL, master)."""
    with gunicorn(cfg, workers, env={"APN_API_RATE_LIMIT": "1000000 per minute"}, log_path=log_path,
                  args=("--timeout", "120", "--graceful-timeout", "10", "--log-level", "info")) as served:
        yield served


def worker_pids(master: int) -> list[int]:
    """gunicorn's workers: the master's children."""
    try:
        with open(f"/proc/{master}/task/{master}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def kill_a_worker(master: int, workers: int, rec: Record) -> dict:
    """SIGKILL one worker; wait until the master has started a new one."""
    before = worker_pids(master)
    victim = before[0]
    rec.event("worker killed")
    os.kill(victim, signal.SIGKILL)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 60:
        now = worker_pids(master)
        if victim not in now and len(now) >= workers:
            rec.event("worker replaced")
            return {"victim": victim, "replaced_in": time.monotonic() - t0}
        time.sleep(0.05)
    return {"victim": victim, "replaced_in": None}


def restart_postgres(pg, down_for: float, rec: Record) -> dict:
    """Crash PostgreSQL, keep it down ``down_for`` s, start it (crash recovery included)."""
    rec.event("database down")
    pg.stop_server("immediate")
    time.sleep(down_for)
    t0 = time.monotonic()
    pg.start_server()
    rec.event("database up")
    return {"down_for": down_for, "start_seconds": time.monotonic() - t0}


# --- checks -------------------------------------------------------------------------------------------------

def check_store(superuser_url: str, rec: Record) -> dict:
    """Acknowledged sessions stored exactly once, and the store consistent; the counts of what is wrong."""
    from sqlalchemy import create_engine, text

    eng = create_engine(superuser_url)
    out: dict = {}
    with eng.connect() as c:
        app_rows = c.execute(text(
            "SELECT id, group_id, session_date FROM activity_session WHERE channel = 'app'")).all()
        by_id = {r.id: r for r in app_rows}
        per_slot: dict[tuple, int] = defaultdict(int)
        for r in app_rows:
            per_slot[(r.group_id, r.session_date.isoformat())] += 1
        missing = [k for k, a in rec.app_acks.items() if a["session_id"] not in by_id
                   or by_id[a["session_id"]].group_id != a["group_id"]
                   or by_id[a["session_id"]].session_date.isoformat() != a["date"]]
        ack_ids = [a["session_id"] for a in rec.app_acks.values()]
        out["app acknowledged"] = len(rec.app_acks)
        out["app acknowledged, missing"] = len(missing)
        down = rec.events.get("database down")
        for k in missing[:10]:
            a = rec.app_acks[k]
            when = f"{a['at'] - down:+.2f} s from the crash" if down is not None else ""
            print(f"  missing: app session {a['session_id']} (group {a['group_id']}, {a['date']}), acknowledged "
                  f"{when}{', a replay' if a['replayed'] else ''}", flush=True)
        out["app acknowledged twice (same id, two keys)"] = len(ack_ids) - len(set(ack_ids))
        out["app sessions stored twice (group, day)"] = sum(1 for n in per_slot.values() if n > 1)
        codes = c.execute(text("SELECT partner_client_id, partner_code, count(*) AS n FROM activity_session "
                               "WHERE partner_code IS NOT NULL GROUP BY 1, 2")).all()
        stored = {(r.partner_client_id, r.partner_code): r.n for r in codes}
        out["partner codes acknowledged"] = len(rec.partner_acks)
        out["partner codes acknowledged, missing"] = sum(1 for k in rec.partner_acks if k not in stored)
        out["partner codes stored twice"] = sum(1 for n in stored.values() if n > 1)
        out["attendance spans unequal to their session"] = c.execute(text(
            "SELECT count(*) FROM attendance a JOIN activity_session s ON s.tenant_id = a.tenant_id "
            "AND s.id = a.session_id WHERE a.starts_at <> s.starts_at OR a.ends_at <> s.ends_at")).scalar()
        out["attendance without session"] = c.execute(text(
            "SELECT count(*) FROM attendance a WHERE NOT EXISTS (SELECT 1 FROM activity_session s "
            "WHERE s.tenant_id = a.tenant_id AND s.id = a.session_id)")).scalar()
        out["clash flags"] = c.execute(text("SELECT count(*) FROM clash_flag")).scalar()
        out["clash flags on missing sessions"] = c.execute(text(
            "SELECT count(*) FROM clash_flag fl WHERE NOT EXISTS (SELECT 1 FROM activity_session s "
            "WHERE s.tenant_id = fl.tenant_id AND s.id = fl.session_id) OR (fl.other_session_id IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM activity_session s WHERE s.tenant_id = fl.tenant_id "
            "AND s.id = fl.other_session_id))")).scalar()
        out["open overlap flags on sessions that no longer clash"] = c.execute(text(
            "SELECT count(*) FROM clash_flag fl "
            "JOIN activity_session s1 ON s1.tenant_id = fl.tenant_id AND s1.id = fl.session_id "
            "JOIN activity_session s2 ON s2.tenant_id = fl.tenant_id AND s2.id = fl.other_session_id "
            "WHERE fl.status = 'open' AND fl.kind IN ('person_overlap', 'leader_overlap') AND ("
            " NOT (s1.starts_at < s2.ends_at AND s2.starts_at < s1.ends_at)"
            " OR NOT EXISTS (SELECT 1 FROM attendance a WHERE a.tenant_id = fl.tenant_id "
            "   AND a.session_id = fl.session_id AND a.person_id = fl.person_id AND a.present)"
            " OR NOT EXISTS (SELECT 1 FROM attendance a WHERE a.tenant_id = fl.tenant_id "
            "   AND a.session_id = fl.other_session_id AND a.person_id = fl.person_id AND a.present))")).scalar()
        out["sessions stored"] = c.execute(text("SELECT count(*) FROM activity_session")).scalar()
        out["participations stored"] = c.execute(text("SELECT count(*) FROM attendance WHERE present")).scalar()
    eng.dispose()
    return out


def check_statuses(rec: Record, grace: float = 2.0) -> dict:
    """5xx other than 503 + Retry-After answered while the database was down (from its stop to ``grace``
    seconds after its start; a request may wait in gunicorn's queue, so the answer's time counts)."""
    down, up = rec.events.get("database down"), rec.events.get("database up")
    bad, late, outage = [], [], []
    for h in rec.hits:
        if h.status < 500:
            continue
        answered = h.started + h.seconds
        during = down is not None and up is not None and down <= answered <= up + grace
        if h.status == 503 and h.retry_after and during:
            outage.append(h)
        elif h.status == 503 and h.retry_after:
            late.append(h)
        else:
            bad.append(h)
    return {"outage": outage, "late": late, "bad": bad}


def recovery(rec: Record) -> dict:
    """Seconds from the database's start to the first success of each kind of client, and the first and
    last 503 relative to the stop and the start."""
    down, up = rec.events.get("database down"), rec.events.get("database up")
    if down is None or up is None:
        return {}
    out = {}
    for kind in sorted({h.kind for h in rec.hits}):
        ok = [h.started + h.seconds for h in rec.hits if h.kind == kind and 200 <= h.status < 400
              and h.started >= down]
        if ok:
            out[kind] = max(0.0, min(ok) - up)
    s503 = [h.started + h.seconds for h in rec.hits if h.status == 503]
    out["_first 503 answered, after the stop"] = min(s503) - down if s503 else None
    out["_last 503 answered, after the start"] = max(s503) - up if s503 else None
    return out


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, max(0, round(p / 100 * len(v) + 0.5) - 1))]


def server_errors(log_path: str) -> list[str]:
    """Lines of the gunicorn log that tell of a 500 or an unhandled error (not the expected outage)."""
    keep = []
    with open(log_path, errors="replace") as fh:
        for line in fh:
            if ("Unhandled" in line or "Traceback" in line or "Error" in line.split(":")[0]
                    or "[CRITICAL]" in line or "WORKER TIMEOUT" in line):
                keep.append(line.rstrip())
    return keep


# --- the run ------------------------------------------------------------------------------------------------

def run(args) -> int:
    """Set up, serve, play, fault, drain, check, report; 0 when every check passed."""
    print(f"Deadline-day benchmark: {machine()}", flush=True)
    uptime = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    print(f"uptime before: {uptime}", flush=True)
    today = dt.date.today()
    rec = Record()
    log_path = args.log or tempfile.mktemp(prefix="apn-deadline-gunicorn-", suffix=".log")
    with bench_database("postgresql", "deadline") as bdb:
        pg = bdb.pg
        app = migrated_app(bdb.config, TESTING=False)
        t0 = time.perf_counter()
        world = build_world(app, args.leaders, args.partners, args.officers)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        print(f"data: {args.leaders} leaders, {args.partners} partners, {args.officers} officers "
              f"in {time.perf_counter() - t0:.1f} s", flush=True)
        # An acknowledged commit must survive the crash below: the throw-away cluster runs with
        # synchronous_commit=off on its command line (which ALTER SYSTEM cannot override), so restart it with
        # it on. (fsync stays off: the crash is of PostgreSQL, not of the machine.)
        pg.settings["synchronous_commit"] = "on"
        pg.restart()
        durable = [w for w in pg.psql("SHOW synchronous_commit").split() if w in ("on", "off")]
        print(f"PostgreSQL synchronous_commit: {durable[0] if durable else '?'}", flush=True)
        pg.psql("ANALYZE", database="apn_bench")
        with serving(bdb.config, args.workers, log_path) as (base, master):
            stop = threading.Event()
            stop_new = threading.Event()
            rng = random.Random(args.seed)
            leaders = Leaders(base, world.leaders, rec, args.leader_threads, args.think, stop_new, today, rng)
            partners = [threading.Thread(target=partner_loop, daemon=True,
                                         args=(base, p, rec, world, args, stop, today, args.seed + 100 + p.index))
                        for p in world.partners]
            officers = [threading.Thread(target=officer_loop, daemon=True,
                                         args=(base, e, world, rec, stop, args.seed + 200 + i))
                        for i, e in enumerate(world.officers)]
            rec.event("start")
            started = time.monotonic()
            leaders.start()
            for t in partners + officers:
                t.start()
            faults: dict = {}
            plan = sorted([(args.restart_at * args.duration, "restart"), (args.kill_at * args.duration, "kill")])
            for at, what in plan:
                while time.monotonic() - started < at:
                    time.sleep(0.2)
                if what == "restart":
                    print(f"  {time.monotonic() - started:6.1f} s: PostgreSQL crashed, down {args.down_for} s",
                          flush=True)
                    faults["restart"] = restart_postgres(pg, args.down_for, rec)
                else:
                    print(f"  {time.monotonic() - started:6.1f} s: SIGKILL to a gunicorn worker", flush=True)
                    faults["kill"] = kill_a_worker(master.pid, args.workers, rec)
            while time.monotonic() - started < args.duration:
                time.sleep(0.5)
            rec.event("end")
            played = time.monotonic() - started
            stop.set()
            leaders.finish(args.drain)
            for t in partners + officers:
                t.join(timeout=args.drain)
            still = leaders.pending()
            uptime_after = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
        store = check_store(bdb.superuser_url(), rec)
    statuses = check_statuses(rec)
    rec_times = recovery(rec)
    errors = server_errors(log_path)
    return report(args, rec, played, faults, store, statuses, rec_times, errors, still, uptime, uptime_after,
                  log_path)


def report(args, rec: Record, played: float, faults: dict, store: dict, statuses: dict, rec_times: dict,
           errors: list[str], still: int, uptime: str, uptime_after: str, log_path: str) -> int:
    """Print the figures and the checks; 0 when every check passed."""
    print(f"\nuptime after: {uptime_after}")
    print(f"played {played:.0f} s; faults: {faults}; attendances still on phones after the drain: {still}")
    kinds = sorted({h.kind for h in rec.hits})
    rows = []
    for k in kinds:
        hs = [h for h in rec.hits if h.kind == k]
        ok = [h.seconds * 1000 for h in hs if 200 <= h.status < 400]
        by = defaultdict(int)
        for h in hs:
            by[h.status] += 1
        rows.append([k, f"{len(hs):,}", f"{len(hs) / played:.1f}", f"{pct(ok, 50):.0f}", f"{pct(ok, 95):.0f}",
                     f"{pct(ok, 99):.0f}", ", ".join(f"{s or 'no answer'}: {n}" for s, n in sorted(by.items()))])
    print_table(["requests", "count", "per s", "p50 ms", "p95 ms", "p99 ms", "statuses"], rows)
    acked = store["app acknowledged"] + store["partner codes acknowledged"]
    print(f"\nsessions acknowledged: {acked:,} ({acked / played:.1f}/s), participations sent and "
          f"acknowledged: {rec.participations:,} ({rec.participations / played:.0f}/s)")
    print_table(["since the database started again", "seconds"],
                [[k.lstrip("_"), "-" if v is None else f"{v:.2f}"] for k, v in rec_times.items()])
    if "kill" in faults:
        print(f"\nworker {faults['kill']['victim']} killed; the master had a new one after "
              f"{faults['kill']['replaced_in']:.2f} s" if faults["kill"]["replaced_in"] is not None
              else "\nthe killed worker was not replaced within 60 s")
    checks = [
        ("acknowledged app sessions all stored", store["app acknowledged, missing"] == 0),
        ("acknowledged partner sessions all stored", store["partner codes acknowledged, missing"] == 0),
        ("nothing stored twice", store["app sessions stored twice (group, day)"] == 0
         and store["partner codes stored twice"] == 0 and store["app acknowledged twice (same id, two keys)"] == 0),
        ("no 5xx but 503 + Retry-After during the outage", not statuses["bad"] and not statuses["late"]),
        ("attendance spans equal their sessions", store["attendance spans unequal to their session"] == 0
         and store["attendance without session"] == 0),
        ("clash flags point at live, still clashing sessions", store["clash flags on missing sessions"] == 0
         and store["open overlap flags on sessions that no longer clash"] == 0),
        ("every attendance taken was acknowledged", still == 0),
        ("nothing valid refused (4xx)", not rec.refusals),
    ]
    print_table(["store and statuses", "value"], [[k, f"{v:,}"] for k, v in store.items()]
                + [["503 + Retry-After during the outage", len(statuses["outage"])],
                   ["503 + Retry-After outside the outage", len(statuses["late"])],
                   ["other 5xx", len(statuses["bad"])], ["refusals (4xx)", len(rec.refusals)],
                   ["partner pushes the client gave up on (sent again)", len(rec.gave_up)]])
    print_table(["check", "result"], [[c, "pass" if ok else "**FAIL**"] for c, ok in checks])
    for h in (statuses["bad"] + statuses["late"])[:20]:
        print(f"  5xx: {h.kind} status {h.status} Retry-After {h.retry_after} at "
              f"{h.started - rec.events['start']:.1f} s: {h.detail[:150]!r}")
    for r in rec.refusals[:10]:
        print(f"  refused: {r[:300]}")
    print(f"\ngunicorn log: {log_path}; lines with errors: {len(errors)}")
    for line in errors[:30]:
        print(f"  {line[:300]}")
    return 0 if all(ok for _, ok in checks) else 1


def main() -> None:
    """Parse the arguments and run."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=600.0, help="seconds of load (default 600)")
    p.add_argument("--leaders", type=int, default=300)
    p.add_argument("--leader-threads", type=int, default=16, help="threads serving the leaders (default 16)")
    p.add_argument("--think", type=float, default=45.0, help="mean seconds between a leader's attendances")
    p.add_argument("--partners", type=int, default=12)
    p.add_argument("--partner-think", type=float, default=20.0, help="mean seconds between a partner's pushes")
    p.add_argument("--bulk", type=int, default=50, help="sessions per bulk push (default 50)")
    p.add_argument("--officers", type=int, default=4)
    p.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    p.add_argument("--restart-at", type=float, default=0.4, help="PostgreSQL crash, as a fraction of the run")
    p.add_argument("--down-for", type=float, default=8.0, help="seconds PostgreSQL stays down")
    p.add_argument("--kill-at", type=float, default=0.7, help="worker SIGKILL, as a fraction of the run")
    p.add_argument("--drain", type=float, default=120.0, help="at most this long to finish after the run")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--log", default=None, help="gunicorn log file (default: a new temporary file)")
    args = p.parse_args()
    if not 10 <= args.duration <= 3600:
        p.error("--duration must be 10-3600 s")
    if not (0 < args.restart_at < 1 and 0 < args.kill_at < 1):
        p.error("--restart-at and --kill-at are fractions of the run (0-1)")
    sys.exit(run(args))


if __name__ == "__main__":
    main()
