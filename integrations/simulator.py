"""A reference club-administration system: pushes one season of a club's sessions through the client.

It does what a real partner integration does, in order: upsert the attendance cards (groups), upsert the
people, send the season's sessions in bulk, then send the kind of corrections a club makes afterwards
(attendance marks patched, sessions replaced whole, sessions removed, singly and in a mixed bulk). It keeps
its own record of what the store should now hold (:meth:`ClubSimulator.expected`), which end-to-end tests
compare with the database. Deterministic for a given seed. Standalone: it does not import ``apn``.

Run it against a server::

    python -m integrations.simulator --base-url http://127.0.0.1:5000 --client-id ID --orgnr 8020000016
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import random
import sys
from dataclasses import dataclass, field

from integrations.apn_client.client import ApnClient

FIRST = ["Alva", "Elsa", "Maja", "Wilma", "Ella", "Alice", "Saga", "Olivia", "Noah", "William", "Hugo", "Lucas",
         "Liam", "Oscar", "Elias", "Adam", "Nils", "Ebba", "Leo", "Vera"]
LAST = ["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Svensson",
        "Gustafsson", "Berg", "Lindqvist", "Holm", "Lund", "Ek"]
ACTIVITIES = [("Fotboll", True), ("Innebandy", True), ("Simning", False), ("Judo", False), ("Basket", True)]
FACILITIES = ["Sporthallen", "Konstgräsplanen", "Simhallen", "Dojon", "Idrottshuset"]


def _luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def personnummer(birth: dt.date, serial: int, female: bool) -> str:
    """A valid 12-digit personal identity number for a birth date."""
    three = f"{serial % 100:02d}{(serial // 100) % 5 * 2 + (0 if female else 1)}"
    nine = f"{birth:%y%m%d}{three}"
    return f"{birth:%Y%m%d}{three}{_luhn_digit(nine)}"


@dataclass
class SimReport:
    """What the simulator sent and what the server said."""

    requests: dict[str, int] = field(default_factory=dict)
    sessions_sent: int = 0
    refused: list[dict] = field(default_factory=list)

    def count(self, kind: str, n: int = 1) -> None:
        """Count requests of a kind."""
        self.requests[kind] = self.requests.get(kind, 0) + n


class ClubSimulator:
    """One club (association) in a partner system, with its groups, members and a season of sessions."""

    def __init__(self, client: ApnClient, orgnr: str, *, seed: int = 2026, groups: int = 3,
                 participants_per_group: int = 14, leaders_per_group: int = 2,
                 season_start: dt.date = dt.date(2026, 1, 12), weeks: int = 20, sessions_per_week: int = 2,
                 prefix: str = "SIM", chunk_size: int = 1000) -> None:
        self.client = client
        self.orgnr = orgnr
        self.rng = random.Random(seed)
        self.prefix = prefix
        self.chunk_size = chunk_size
        self.people: dict[str, dict] = {}
        self.groups: dict[str, dict] = {}
        self.sessions: dict[str, dict] = {}  # kod -> session body as the store should hold it
        self._plan(groups, participants_per_group, leaders_per_group, season_start, weeks, sessions_per_week)

    # --- the season -------------------------------------------------------------------------------------

    def _person(self, pid: str, birth_year: int, with_pnr: bool) -> None:
        rng = self.rng
        female = rng.random() < 0.5
        birth = dt.date(birth_year, rng.randint(1, 12), rng.randint(1, 28))
        body = {"first_name": rng.choice(FIRST), "last_name": rng.choice(LAST)}
        if with_pnr:
            body["personnummer"] = personnummer(birth, rng.randint(0, 499), female)
        else:  # no personal number: name + birth date + sex
            body.update(birth_date=birth.isoformat(), sex="F" if female else "M")
        self.people[pid] = body

    def _plan(self, n_groups, n_part, n_lead, start, weeks, per_week) -> None:
        rng = self.rng
        for g in range(n_groups):
            card = str(1000 + g)
            activity, team = ACTIVITIES[g % len(ACTIVITIES)]
            parts = [f"{self.prefix}-p{g}-{i}" for i in range(n_part)]
            leads = [f"{self.prefix}-l{g}-{i}" for i in range(n_lead)]
            for i, pid in enumerate(parts):
                self._person(pid, rng.randint(2009, 2018), with_pnr=i % 10 != 9)
            for pid in leads:
                self._person(pid, rng.randint(1970, 2004), with_pnr=True)
            weekday = (g * 2) % 5
            hour = 16 + g % 4
            self.groups[card] = {
                "body": {"name": f"{activity} grupp {g + 1}", "main_activity": activity,
                         "facility": FACILITIES[g % len(FACILITIES)], "usual_weekday": weekday,
                         "usual_start": f"{hour:02d}:00", "usual_stop": f"{hour + 1:02d}:30"},
                "participants": parts, "leaders": leads, "team": team, "hour": hour, "weekday": weekday}
        for card, g in self.groups.items():
            for w in range(weeks):
                for k in range(per_week):
                    day = start + dt.timedelta(weeks=w, days=g["weekday"] + 2 * k)
                    kod = f"{self.prefix}-{card}-{w:02d}{k}"
                    late = w == weeks - 1 and k == 0  # the season's end party runs past midnight
                    self.sessions[kod] = {
                        "organisationsnummer": self.orgnr, "card_number": card, "date": day.isoformat(),
                        "start_time": "23:00" if late else f"{g['hour']:02d}:00",
                        "stop_time": "00:30" if late else f"{g['hour'] + 1:02d}:30",
                        **({"stop_date": (day + dt.timedelta(days=1)).isoformat()} if late else {}),
                        "activity": g["body"]["main_activity"], "facility": g["body"]["facility"],
                        "type": "Match" if k == 1 and g["team"] else ("Oevrigt" if late else "Traening"),
                        "team_sport": g["team"],
                        "participants": [{"person_id": p, "present": rng.random() < 0.85,
                                          "disability": rng.random() < 0.03,
                                          "temporary_leader": False} for p in g["participants"]],
                        "leaders": [{"person_id": p, "present": i == 0 or rng.random() < 0.5,
                                     "disability": False} for i, p in enumerate(g["leaders"])],
                    }
                    if rng.random() < 0.05:  # a youth leads this once
                        self.sessions[kod]["participants"][0].update(present=True, temporary_leader=True)

    # --- pushing ------------------------------------------------------------------------------------------

    def run(self) -> SimReport:
        """Push the whole season, then the corrections. Returns what was sent."""
        rep = SimReport()
        for card, g in self.groups.items():
            self.client.put_group(self.orgnr, card, g["body"])
            rep.count("put_group")
        for pid, body in self.people.items():
            self.client.put_person(self.orgnr, pid, body)
            rep.count("put_person")
        items = [{**copy.deepcopy(s), "kod": kod, "method": "add"} for kod, s in self.sessions.items()]
        result = self.client.bulk_sessions(items, self.chunk_size)
        rep.count("bulk", result.requests)
        rep.sessions_sent += len(items)
        rep.refused.extend(result.refused)
        self._corrections(rep)
        return rep

    def _corrections(self, rep: SimReport) -> None:
        rng = self.rng
        kods = sorted(self.sessions)
        rng.shuffle(kods)
        n = max(1, len(kods) // 20)
        patched, replaced, removed = kods[:n], kods[n:2 * n], kods[2 * n:3 * n]
        bulk_patch, bulk_remove = kods[3 * n:4 * n], kods[4 * n:4 * n + max(1, n // 2)]
        for kod in patched:  # a leader fixes attendance afterwards
            s = self.sessions[kod]
            marks = [{**m, "present": not m["present"]} for m in s["participants"][:2]]
            self.client.patch_session(kod, {"participants": marks})
            self._apply_marks(kod, {"participants": marks})
            rep.count("patch")
        for kod in replaced:  # the session was moved: the whole session is sent again
            s = copy.deepcopy(self.sessions[kod])
            if s.get("stop_date"):
                continue
            s["start_time"], s["stop_time"] = "10:00", "11:45"
            s["participants"] = s["participants"][:-1]  # one fewer on the card
            self.client.put_session(kod, s)
            self.sessions[kod] = s
            rep.count("put_session")
        for kod in removed:  # cancelled
            self.client.delete_session(kod)
            del self.sessions[kod]
            rep.count("delete_session")
        items = []
        for kod in bulk_patch:
            marks = {"leaders": [{**m, "present": True} for m in self.sessions[kod]["leaders"]]}
            items.append({"kod": kod, "method": "update", **marks})
            self._apply_marks(kod, marks)
        for kod in bulk_remove:
            items.append({"kod": kod, "method": "remove"})
            del self.sessions[kod]
        if items:
            result = self.client.bulk_sessions(items, self.chunk_size)
            rep.count("bulk", result.requests)
            rep.refused.extend(result.refused)
        rep.sessions_sent += len(patched) + len(replaced) + len(removed) + len(items)

    def _apply_marks(self, kod: str, marks: dict) -> None:
        s = self.sessions[kod]
        for key in ("participants", "leaders"):
            by_id = {m["person_id"]: m for m in s[key]}
            for m in marks.get(key, []):
                by_id[m["person_id"]] = {**by_id.get(m["person_id"], {}), **m}
            s[key] = list(by_id.values())

    # --- what the store should hold -----------------------------------------------------------------------

    def expected(self) -> dict[str, dict]:
        """kod -> the session as the store should now hold it (times, type, marks by the partner's ids)."""
        out = {}
        for kod, s in self.sessions.items():
            out[kod] = {
                "date": s["date"], "start_time": s["start_time"], "stop_time": s["stop_time"],
                "stop_date": s.get("stop_date"), "type": s["type"], "team_sport": s["team_sport"],
                "card_number": s["card_number"],
                "participants": {m["person_id"]: (bool(m["present"]), bool(m.get("disability")),
                                                  bool(m.get("temporary_leader"))) for m in s["participants"]},
                "leaders": {m["person_id"]: (bool(m["present"]), bool(m.get("disability"))) for m in s["leaders"]},
            }
        return out

    def counts(self) -> dict[str, int]:
        """Sessions, participations and leader participations the store should hold for this club."""
        exp = self.expected().values()
        return {"sessions": len(exp),
                "participations": sum(1 for s in exp for p in s["participants"].values() if p[0] and not p[2]),
                "leader_participations": sum(1 for s in exp for p in s["leaders"].values() if p[0])
                + sum(1 for s in exp for p in s["participants"].values() if p[0] and p[2])}


def main(argv: list[str] | None = None) -> int:
    """Push a season to a running server and print what was sent."""
    p = argparse.ArgumentParser(prog="python -m integrations.simulator", description=__doc__.split("\n")[0])
    p.add_argument("--base-url", required=True)
    p.add_argument("--client-id", required=True)
    p.add_argument("--client-secret", default=None, help="default: $APN_CLIENT_SECRET")
    p.add_argument("--orgnr", required=True, help="organisation number of an association that authorised you")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--weeks", type=int, default=20)
    p.add_argument("--groups", type=int, default=3)
    args = p.parse_args(argv)
    secret = args.client_secret or os.environ.get("APN_CLIENT_SECRET")
    if not secret:
        print("error: give --client-secret or set APN_CLIENT_SECRET", file=sys.stderr)
        return 1
    client = ApnClient(args.base_url, args.client_id, secret)
    sim = ClubSimulator(client, args.orgnr, seed=args.seed, weeks=args.weeks, groups=args.groups)
    rep = sim.run()
    print(json.dumps({"requests": rep.requests, "sessions_sent": rep.sessions_sent, "refused": rep.refused,
                      "expected": sim.counts()}, indent=2, ensure_ascii=False))
    return 2 if rep.refused else 0


if __name__ == "__main__":
    sys.exit(main())
