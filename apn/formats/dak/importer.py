"""Import a DAK file through the one intake.

Every ``Sammankomst`` becomes one :class:`apn.intake.SessionCommand` (channel ``dak``); the whole file goes
to :func:`apn.intake.ingest` in one call. Sessions that cannot be taken (schema errors, a wrong
municipality, an association that is unknown or has not authorised the partner, a bad register entry, a
refusal by the intake) are reported with their line and reason; the rest of the file is kept.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from sqlalchemy import and_, select, update

from apn.errors import Forbidden
from apn.extensions import db
from apn.formats.dak.parser import (
    MAX_DAK_BYTES,
    Card,
    DakFile,
    Mark,
    RegisterEntry,
    Session,
    first_per_id,
    mask_numbers,
    parse_dak,
)
from apn.identity import IdentityError, normalise_key, normalise_orgnr, parse_personnummer
from apn.intake import AttendanceMark, PersonRef, SessionCommand, ingest
from apn.intake.bulk import insert_rows
from apn.intake.people import PersonProblem, resolve
from apn.models import Association, Facility, Group, PartnerAuthorisation, Tenant, allocate_ids
from apn.tenancy import current_tenant_id, in_system_scope, tenant_scope

#: Intake field names in the words of the DAK format.
_DAK_FIELDS = {
    "date": "Datum", "start_time": "StartTid", "stop_time": "StoppTid", "stop_date": "StoppDatum",
    "kod": "kod", "type": "Typ", "method": "Metod", "group_id": "Naervarokort", "association": "Foerening",
    "facility_id": "Lokal",
}

#: Longest activity / facility / group name the store keeps (the XSD allows 150; longer text is cut).
NAME_MAX = 120

#: How many refused sessions a report lists (in line order); ``refused_total`` counts them all.
MAX_REFUSED_LISTED = 1000


@dataclass
class RefusedSession:
    """A session that was not taken: its line, its code, why, and the intake's refusal code if any."""

    line: int
    kod: str | None
    reason: str
    #: The intake's machine-readable code (``period_closed``, ``date_in_future``, …; docs/partners.md).
    code: str | None = None

    def as_dict(self) -> dict:
        """``{"line", "kod", "reason", "code"}``."""
        return {"line": self.line, "kod": self.kod, "reason": self.reason, "code": self.code}


@dataclass
class DakReport:
    """What a file held, what was accepted and what was refused (with lines)."""

    file: dict[str, int]
    accepted: dict[str, int]
    refused: list[RefusedSession] = field(default_factory=list)
    #: How many accepted sessions were created, replaced, updated, removed.
    actions: dict[str, int] = field(default_factory=dict)
    version: str = ""

    def as_dict(self) -> dict:
        """The report as the API and the web page show it: the first :data:`MAX_REFUSED_LISTED` refused
        sessions and how many were refused in all."""
        return {"file": dict(self.file), "accepted": dict(self.accepted),
                "refused": [r.as_dict() for r in self.refused[:MAX_REFUSED_LISTED]],
                "refused_total": len(self.refused)}


@contextlib.contextmanager
def _bound(tenant_id: int):
    current = current_tenant_id()
    if current == tenant_id:
        yield
        return
    if current is not None and not in_system_scope():
        raise Forbidden("a DAK file can only be imported into the municipality the caller belongs to")
    with tenant_scope(tenant_id):
        yield


def import_dak(xml: bytes, *, tenant_id: int, partner_client_id: int | None,
               allowed_association_ids: set[int] | None, reported_by_user_id: int | None = None,
               max_bytes: int = MAX_DAK_BYTES) -> DakReport:
    """Import a DAK 2.1/2.2 file for ``tenant_id``; flushes, never commits (the caller commits once).

    ``partner_client_id`` is the partner that sent the file (None for an association admin's upload in the
    web UI). ``allowed_association_ids`` limits the associations the file may write: None means "the
    associations that authorised the partner" for a partner, and no limit without one (CLI, system use).
    A file that cannot be read at all raises a 4xx :class:`apn.errors.DomainError`; nothing is written then.
    """
    parsed = parse_dak(xml, max_bytes)
    with _bound(tenant_id):
        return _Import(parsed, tenant_id, partner_client_id, allowed_association_ids, reported_by_user_id).run()


class _Import:
    """One import run: checks, groups and facilities, the intake call, the report."""

    def __init__(self, parsed: DakFile, tenant_id: int, partner_client_id: int | None,
                 allowed: set[int] | None, user_id: int | None) -> None:
        self.f = parsed
        self.tenant_id = tenant_id
        self.pcid = partner_client_id
        self.allowed = allowed
        self.user_id = user_id
        self.conn = db.session.connection()
        self.refused: dict[int, RefusedSession] = {}  # index of the session -> refusal
        self._entry_problems: dict[int, str | None] = {}
        self._person_ids: dict[int, int] = {}  # id(RegisterEntry) -> person id

    def refuse(self, i: int, reason: str, code: str | None = None) -> None:
        """Refuse session ``i`` (the first reason wins); the reason never holds a personal number (ids,
        values and the intake's texts are masked here, the one door of every reason)."""
        if i not in self.refused:
            s = self.f.sessions[i]
            self.refused[i] = RefusedSession(s.line, s.kod, mask_numbers(reason), code)

    def run(self) -> DakReport:
        """Check, translate, ingest once, report."""
        f = self.f
        for s in f.sessions:  # the partner's session code as the API compares it (``Ｄ-１`` is ``D-1``)
            s.kod = normalise_key(s.kod) or None
        tenant = db.session.get(Tenant, self.tenant_id)
        if tenant is None:
            raise Forbidden("unknown municipality")
        if f"{f.kommun_id:04d}" != tenant.kommunkod:
            for i in range(len(f.sessions)):
                self.refuse(i, f"Kommun@kommunID {f.kommun_id} (line {f.kommun_line}) is not the municipality "
                               f"code of {tenant.name} ({tenant.kommunkod})")
        assoc_ids = self._associations(tenant)
        seen_kod: dict[str, int] = {}
        for i, s in enumerate(f.sessions):
            card, assoc = s.card, s.card.association
            if assoc.errors:
                self.refuse(i, f"Foerening (line {assoc.line}): " + "; ".join(assoc.errors))
            elif isinstance(assoc_ids.get(id(assoc)), str):
                self.refuse(i, assoc_ids[id(assoc)])
            if card.errors:
                self.refuse(i, f"Naervarokort (line {card.line}): " + "; ".join(card.errors))
            if s.errors:
                self.refuse(i, "; ".join(s.errors))
            if s.kod:
                if s.kod in seen_kod:
                    self.refuse(i, f"kod {s.kod!r} appears earlier in the file (line {f.sessions[seen_kod[s.kod]].line}); "
                                   "send each session once per file")
                else:
                    seen_kod[s.kod] = i
            if s.method != "remove":
                problem = self._people_problem(s)
                if problem:
                    self.refuse(i, problem)
        groups = self._groups(assoc_ids)
        facilities = self._facilities()
        self._resolve_people()

        commands: list[SessionCommand] = []
        for i, s in enumerate(f.sessions):
            if i in self.refused:
                continue
            aid = assoc_ids[id(s.card.association)]
            gid = groups.get(id(s.card))
            if isinstance(gid, str):
                self.refuse(i, gid)
                continue
            commands.append(self._command(i, s, aid, gid, facilities))

        result = ingest(commands) if commands else None
        accepted_idx: list[int] = []
        actions: dict[str, int] = {}
        if result is not None:
            by_ref = {c.ref: c for c in commands}
            for r in result.refused:
                i = int(r.ref)  # type: ignore[arg-type]
                self.refuse(i, self._intake_reason(by_ref[r.ref], i, r.field, r.reason), r.code)
            for o in result.accepted:
                accepted_idx.append(int(o.ref))  # type: ignore[arg-type]
                actions[o.action] = actions.get(o.action, 0) + 1
        acc = [f.sessions[i] for i in accepted_idx]
        return DakReport(
            file=f.counts(),
            accepted={"sessions": len(acc), "participations": sum(s.participations for s in acc),
                      "leader_participations": sum(s.leader_participations for s in acc)},
            refused=sorted(self.refused.values(), key=lambda r: r.line),
            actions=actions, version=f.version)

    # --- checks -----------------------------------------------------------------------------------------

    def _associations(self, tenant: Tenant) -> dict[int, int | str]:
        """``id(Association record)`` -> association id, or the reason it cannot be used."""
        out: dict[int, int | str] = {}
        wanted: dict[int, str] = {}
        for a in self.f.associations:
            label = f"Foerening {a.foerenings_id!r} (line {a.line})"
            if not a.organisationsnummer:
                out[id(a)] = f"{label} has no organisationsnummer; it is needed to find the association"
                continue
            try:
                wanted[id(a)] = normalise_orgnr(a.organisationsnummer)
            except IdentityError as exc:
                out[id(a)] = f"{label}: organisationsnummer {a.organisationsnummer!r} {exc}"
        found = dict(db.session.execute(select(Association.organisationsnummer, Association.id).where(
            Association.tenant_id == self.tenant_id,
            Association.organisationsnummer.in_(set(wanted.values())))).all()) if wanted else {}
        allowed = self.allowed
        if allowed is None and self.pcid is not None:
            allowed = set(db.session.execute(select(PartnerAuthorisation.association_id).where(
                PartnerAuthorisation.tenant_id == self.tenant_id,
                PartnerAuthorisation.partner_client_id == self.pcid,
                PartnerAuthorisation.withdrawn_at.is_(None))).scalars())
        by_id = {id(a): a for a in self.f.associations}
        for key, orgnr in wanted.items():
            a = by_id[key]
            label = f"Foerening {a.foerenings_id!r} (line {a.line})"
            aid = found.get(orgnr)
            if aid is None:
                out[key] = f"{label}: no association with organisationsnummer {orgnr} in {tenant.name}"
            elif allowed is not None and aid not in allowed:
                out[key] = (f"{label}: the association {orgnr} has not authorised this partner system"
                            if self.pcid is not None else
                            f"{label}: you may only upload sessions of your own association, not of {orgnr}")
            else:
                out[key] = aid
        return out

    def _people_problem(self, s: Session) -> str | None:
        """Why the people of a session cannot be taken, or None."""
        for marks, register, reg_name, item in ((s.participants, self.f.participants, "DeltagarRegister",
                                                 "Deltagare"),
                                                (s.leaders, self.f.leaders, "LedarRegister", "Ledare")):
            for m in marks:
                entry = register.get(m.person_id)
                if entry is None:
                    return f"{item} {m.person_id!r} (line {m.line}) is not in the {reg_name}"
                key = id(entry)
                if key not in self._entry_problems:
                    self._entry_problems[key] = _entry_problem(entry)
                problem = self._entry_problems[key]
                if problem:
                    return f"{item} {m.person_id!r} (line {m.line}): {problem}"
        return None

    # --- groups and facilities ----------------------------------------------------------------------------

    def _groups(self, assoc_ids: dict[int, int | str]) -> dict[int, int | str]:
        """``id(Card)`` -> group id (created or updated), or the reason the card cannot be used."""
        cards: list[Card] = []
        seen: set[int] = set()
        for i, s in enumerate(self.f.sessions):
            if i not in self.refused and id(s.card) not in seen:
                seen.add(id(s.card))
                cards.append(s.card)
        if not cards:
            return {}
        out: dict[int, int | str] = {}
        numbers = sorted({str(c.number) for c in cards})
        cond = Group.partner_client_id.is_(None) if self.pcid is None else Group.partner_client_id == self.pcid
        q = select(Group.id, Group.association_id, Group.partner_card_number, Group.name, Group.main_activity,
                   Group.main_facility_id).where(Group.tenant_id == self.tenant_id, cond,
                                                 Group.partner_card_number.in_(numbers))
        if self.pcid is None:
            q = q.where(Group.association_id.in_({assoc_ids[id(c.association)] for c in cards}))
        existing: dict[tuple, dict] = {}
        for row in db.session.execute(q).mappings():
            key = (row["association_id"] if self.pcid is None else None, row["partner_card_number"])
            existing.setdefault(key, dict(row))
        fac = self._facility_ids({c.facility for c in cards})
        first: dict[tuple, Card] = {}
        new_rows: list[dict] = []
        changes: list[dict] = []
        pending: list[tuple[Card, dict]] = []
        for c in cards:
            aid = assoc_ids[id(c.association)]
            key = (aid if self.pcid is None else None, str(c.number))
            if key in first:
                other = first[key]
                if assoc_ids[id(other.association)] != aid:
                    out[id(c)] = (f"Naervarokort {c.number} (line {c.line}) is used for another association earlier "
                                  f"in the file (line {other.line})")
                else:
                    out[id(c)] = out[id(other)]
                continue
            first[key] = c
            values = {"name": (c.name or c.activity or f"Kort {c.number}")[:NAME_MAX],
                      "main_activity": (c.activity or None) and c.activity[:NAME_MAX],
                      "main_facility_id": fac.get(c.facility[:NAME_MAX]) if c.facility else None}
            row = existing.get(key)
            if row is not None:
                if row["association_id"] != aid:
                    out[id(c)] = (f"Naervarokort {c.number} (line {c.line}) belongs to another association in "
                                  "this municipality")
                    continue
                out[id(c)] = row["id"]
                if any(row[k] != v for k, v in values.items() if v is not None):
                    changes.append({"b_id": row["id"], **{k: (v if v is not None else row[k])
                                                          for k, v in values.items()}})
            else:
                pending.append((c, {"tenant_id": self.tenant_id, "association_id": aid, "active": True,
                                    "partner_client_id": self.pcid, "partner_card_number": str(c.number),
                                    **values}))
        ids = iter(allocate_ids(self.conn, "activity_group", len(pending)))
        for c, row in pending:
            row["id"] = next(ids)
            out[id(c)] = row["id"]
            new_rows.append(row)
        if new_rows:
            # A concurrent import may create the same card first: its row is kept and used (a card that is
            # then another association's is refused), not a unique-key error.
            insert_rows(self.conn, Group.__table__, new_rows,
                        on_conflict=("tenant_id", "partner_client_id", "partner_card_number"))
            if self.pcid is not None:
                stored = {num: (gid, aid) for gid, aid, num in self.conn.execute(select(
                    Group.id, Group.association_id, Group.partner_card_number).where(
                    Group.tenant_id == self.tenant_id, Group.partner_client_id == self.pcid,
                    Group.partner_card_number.in_([r["partner_card_number"] for r in new_rows])))}
                for c, row in pending:
                    gid, aid = stored[row["partner_card_number"]]
                    out[id(c)] = gid if aid == row["association_id"] else (
                        f"Naervarokort {c.number} (line {c.line}) belongs to another association in this "
                        "municipality")
        if changes:
            tbl = Group.__table__
            self.conn.execute(update(tbl).where(and_(tbl.c.tenant_id == self.tenant_id,
                                                     tbl.c.id == db.bindparam("b_id"))), changes)
        return out

    def _facility_ids(self, names: set[str]) -> dict[str, int]:
        """Facility ids by name, creating the facilities the tenant does not have yet."""
        names = {n.strip()[:NAME_MAX] for n in names if n and n.strip()}
        if not names:
            return {}
        have = dict(db.session.execute(select(Facility.name, Facility.id).where(
            Facility.tenant_id == self.tenant_id, Facility.name.in_(names))).all())
        missing = sorted(names - set(have))
        if missing:
            ids = list(allocate_ids(self.conn, "facility", len(missing)))
            rows = [{"tenant_id": self.tenant_id, "id": fid, "name": n} for n, fid in zip(missing, ids, strict=True)]
            # A concurrent import may create the same facility first: its row is kept, the ids read back.
            insert_rows(self.conn, Facility.__table__, rows, on_conflict=("tenant_id", "name"))
            have.update(db.session.execute(select(Facility.name, Facility.id).where(
                Facility.tenant_id == self.tenant_id, Facility.name.in_(missing))).all())
        return have

    def _facilities(self) -> dict[str, int]:
        """Facilities of the sessions still in play."""
        return self._facility_ids({s.facility or s.card.facility for i, s in enumerate(self.f.sessions)
                                   if i not in self.refused and (s.facility or s.card.facility)})

    def _resolve_people(self) -> None:
        """Resolve each register entry in use once, through the intake's person resolution (in bulk).

        A file names the same few hundred people in thousands of marks; resolving the entries once (by
        personal number, remembering the partner's ids) and handing the intake person ids saves validating
        and hashing the same number for every mark.
        """
        entries: dict[int, RegisterEntry] = {}
        for i, s in enumerate(self.f.sessions):
            if i in self.refused or s.method == "remove":
                continue
            for m in s.participants:
                entries.setdefault(id(self.f.participants[m.person_id]), self.f.participants[m.person_id])
            for m in s.leaders:
                entries.setdefault(id(self.f.leaders[m.person_id]), self.f.leaders[m.person_id])
        refs = {key: PersonRef(personnummer=e.personnummer, first_name=e.first_name, last_name=e.last_name,
                               external_id=e.person_id) for key, e in entries.items()}
        resolved = resolve(self.tenant_id, list(refs.values()), self.pcid) if refs else {}
        problems: dict[int, str] = {}
        for key, ref in refs.items():
            pid = resolved.get(id(ref))
            if isinstance(pid, int):
                self._person_ids[key] = pid
            else:
                problems[key] = pid.message if isinstance(pid, PersonProblem) else "the person could not be found"
        if problems:
            for i, s in enumerate(self.f.sessions):
                for m, reg, item in [(m, self.f.participants, "Deltagare") for m in s.participants] + \
                                    [(m, self.f.leaders, "Ledare") for m in s.leaders]:
                    msg = problems.get(id(reg[m.person_id]))
                    if msg and s.method != "remove":
                        self.refuse(i, f"{item} {m.person_id!r} (line {m.line}): {msg}")
                        break

    # --- translation ------------------------------------------------------------------------------------

    def _command(self, i: int, s: Session, aid: int, gid: int, facilities: dict[str, int]) -> SessionCommand:
        """The intake command for session ``i``."""
        marks = [] if s.method == "remove" else \
            [self._mark(m, self._person_ids[id(self.f.participants[m.person_id])],
                        "temporary_leader" if m.temporary_leader else "participant")
             for m in first_per_id(s.participants)] + \
            [self._mark(m, self._person_ids[id(self.f.leaders[m.person_id])], "leader")
             for m in first_per_id(s.leaders)]
        place = (s.facility or s.card.facility or "").strip()[:NAME_MAX]
        activity = (s.activity or s.card.activity or "").strip()[:NAME_MAX]
        return SessionCommand(
            association_id=aid, group_id=gid, session_date=s.date, start_time=s.start, stop_time=s.stop,
            stop_date=s.stop_date, channel="dak", method=s.method or "add", activity=activity or None,
            facility_id=facilities.get(place) if place else None, session_type=s.session_type or "Traening",
            team_sport=s.team_sport, partner_client_id=self.pcid, partner_code=s.kod,
            reported_by_user_id=self.user_id, attendance=marks, ref=str(i))

    @staticmethod
    def _mark(m: Mark, person_id: int, role: str) -> AttendanceMark:
        return AttendanceMark(PersonRef(person_id=person_id), role=role, present=m.present, disability=m.disability)

    def _intake_reason(self, cmd: SessionCommand, i: int, fld: str | None, reason: str) -> str:
        """An intake refusal in the file's words."""
        if fld and fld.startswith("attendance["):
            idx = int(fld[len("attendance["):fld.index("]")])
            s = self.f.sessions[i]
            marks = first_per_id(s.participants) + first_per_id(s.leaders)
            n_part = len(first_per_id(s.participants))
            if idx < len(marks):
                m = marks[idx]
                return f"{'Deltagare' if idx < n_part else 'Ledare'} {m.person_id!r} (line {m.line}): {reason}"
        name = _DAK_FIELDS.get(fld or "", fld)
        return f"{name}: {reason}" if name else reason


def _entry_problem(entry: RegisterEntry) -> str | None:
    """Why a register entry cannot be used (never repeating the number itself), or None."""
    if entry.errors:
        return "register entry: " + "; ".join(entry.errors)
    try:
        parse_personnummer(entry.personnummer)
    except IdentityError as exc:
        return f"Personnummer in the register (line {entry.line}) {exc}"
    if not entry.first_name or not entry.last_name:
        return f"the register entry (line {entry.line}) needs Foernamn and Efternamn"
    return None
