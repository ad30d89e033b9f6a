"""What the REST API does, apart from parsing and rendering: partner requests turned into intake commands.

Every session write of the API (single PUT/PATCH/DELETE and bulk) goes through :func:`write_sessions`, which
resolves the partner's keys (organisation number, card number, facility name, session code, person ids) in
a few set-based queries, checks the partner's authorisation, and hands one batch of
:class:`~apn.intake.SessionCommand` to :func:`apn.intake.ingest`. Reads build the partner's view of stored
sessions with one query per table for a whole page.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass, field

from sqlalchemy import and_, func, or_, select

from apn.errors import DomainError
from apn.extensions import db
from apn.identity import IdentityError, normalise_orgnr
from apn.intake import AttendanceMark, PersonRef, SessionCommand, ingest
from apn.intake.bulk import insert_rows
from apn.intake.service import CONCURRENT_WRITE, LOCK_CODES
from apn.models import (
    ActivitySession,
    Association,
    Attendance,
    Facility,
    Group,
    GroupMember,
    PartnerAuthorisation,
    PartnerPerson,
    Tenant,
    allocate_ids,
)

_CHUNK = 900


def _chunks(items: list, size: int = _CHUNK):
    for i in range(0, len(items), size):
        yield items[i:i + size]


@dataclass
class ItemRefusal:
    """A refused session of a request: its index, kod, the field at fault, why, and the HTTP status."""

    index: int
    kod: str | None
    field: str | None
    reason: str
    status: int = 422
    #: The intake's machine-readable code (``period_closed``, …; docs/partners.md), None for others.
    code: str | None = None

    def as_dict(self) -> dict:
        """The bulk response's form."""
        return {"index": self.index, "kod": self.kod, "field": self.field, "reason": self.reason,
                "code": self.code}


@dataclass
class ItemAccepted:
    """A stored session of a request."""

    index: int
    kod: str | None
    action: str
    session_id: int
    participations: int
    leader_participations: int
    clashes: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        """The bulk response's form."""
        return {"index": self.index, "kod": self.kod, "action": self.action,
                "counts": {"participations": self.participations,
                           "leader_participations": self.leader_participations},
                "clashes": self.clashes}


@dataclass
class WriteResult:
    """Accepted and refused items of one write request."""

    accepted: list[ItemAccepted] = field(default_factory=list)
    refused: list[ItemRefusal] = field(default_factory=list)

    def as_dict(self, received: int) -> dict:
        """The bulk response."""
        self.accepted.sort(key=lambda a: a.index)
        self.refused.sort(key=lambda r: r.index)
        return {
            "accepted": [a.as_dict() for a in self.accepted],
            "refused": [r.as_dict() for r in self.refused],
            "totals": {"received": received, "accepted": len(self.accepted), "refused": len(self.refused),
                       "participations": sum(a.participations for a in self.accepted),
                       "leader_participations": sum(a.leader_participations for a in self.accepted)},
        }


def normalise_orgnr_or_none(value: str | None) -> str | None:
    """Ten digits of a valid organisation number, or None."""
    try:
        return normalise_orgnr(value or "")
    except IdentityError:
        return None


class Gateway:
    """One partner's requests in the bound tenant."""

    def __init__(self, tenant_id: int, partner_id: int) -> None:
        self.tenant_id = tenant_id
        self.partner_id = partner_id
        self.conn = db.session.connection()

    # --- lookups ----------------------------------------------------------------------------------------

    def kommunkod(self) -> str:
        """The bound tenant's municipality code."""
        return self.conn.execute(select(Tenant.kommunkod).where(Tenant.id == self.tenant_id)).scalar_one()

    def authorised_ids(self) -> set[int]:
        """Associations that authorised this partner."""
        pa = PartnerAuthorisation
        return set(self.conn.execute(select(pa.association_id).where(
            pa.tenant_id == self.tenant_id, pa.partner_client_id == self.partner_id,
            pa.withdrawn_at.is_(None))).scalars())

    def associations_by_orgnr(self, orgnrs: set[str]) -> dict[str, tuple[int, str]]:
        """Organisation number -> (association id, name) in the tenant."""
        out: dict[str, tuple[int, str]] = {}
        for chunk in _chunks(sorted(orgnrs)):
            for aid, org, name in self.conn.execute(select(
                    Association.id, Association.organisationsnummer, Association.name).where(
                    Association.tenant_id == self.tenant_id, Association.organisationsnummer.in_(chunk))):
                out[org] = (aid, name)
        return out

    def groups_by_card(self, cards: set[str]) -> dict[str, tuple[int, int]]:
        """The partner's card number -> (group id, association id)."""
        out: dict[str, tuple[int, int]] = {}
        for chunk in _chunks(sorted(cards)):
            for gid, aid, card in self.conn.execute(select(
                    Group.id, Group.association_id, Group.partner_card_number).where(
                    Group.tenant_id == self.tenant_id, Group.partner_client_id == self.partner_id,
                    Group.partner_card_number.in_(chunk))):
                out[card] = (gid, aid)
        return out

    def facility_ids(self, names: set[str]) -> dict[str, int]:
        """Facility name (case-insensitive) -> id, creating the facilities not yet listed."""
        wanted = {n.casefold(): n for n in names if n}
        out: dict[str, int] = {}
        keys = sorted(wanted)
        for chunk in _chunks(keys):
            for fid, name in self.conn.execute(select(Facility.id, Facility.name).where(
                    Facility.tenant_id == self.tenant_id, func.lower(Facility.name).in_(chunk))
                    .order_by(Facility.id)):
                out.setdefault(name.casefold(), fid)
        missing = [k for k in keys if k not in out]
        # lower() in SQL and casefold() differ for a few letters; look those up by exact name once more.
        if missing:
            for chunk in _chunks([wanted[k] for k in missing]):
                for fid, name in self.conn.execute(select(Facility.id, Facility.name).where(
                        Facility.tenant_id == self.tenant_id, Facility.name.in_(chunk))):
                    out.setdefault(name.casefold(), fid)
            missing = [k for k in keys if k not in out]
        if missing:
            ids = list(allocate_ids(self.conn, "facility", len(missing)))
            rows = [{"tenant_id": self.tenant_id, "id": fid, "name": wanted[k][:120]}
                    for k, fid in zip(missing, ids, strict=True)]
            # A concurrent request may create the same facility first: its row is kept, the ids read back.
            insert_rows(self.conn, Facility.__table__, rows, on_conflict=("tenant_id", "name"))
            key_of = {wanted[k][:120]: k for k in missing}
            for chunk in _chunks(list(key_of)):
                for fid, name in self.conn.execute(select(Facility.id, Facility.name).where(
                        Facility.tenant_id == self.tenant_id, Facility.name.in_(chunk))):
                    out[key_of[name]] = fid
        return out

    def sessions_by_kod(self, kods: set[str]) -> dict[str, tuple[int, int, dt.date]]:
        """The partner's session code -> (session id, association id, date)."""
        s = ActivitySession
        out: dict[str, tuple[int, int, dt.date]] = {}
        for chunk in _chunks(sorted(kods)):
            for sid, aid, date, kod in self.conn.execute(select(
                    s.id, s.association_id, s.session_date, s.partner_code).where(
                    s.tenant_id == self.tenant_id, s.partner_client_id == self.partner_id,
                    s.partner_code.in_(chunk))):
                out[kod] = (sid, aid, date)
        return out

    def reporting_associations(self, person_id: int) -> set[int]:
        """The associations that reported a person: it is on one of their rosters or in one of their sessions."""
        g, gm, s, a = Group, GroupMember, ActivitySession, Attendance
        on_roster = select(g.association_id).join(gm, and_(gm.tenant_id == g.tenant_id, gm.group_id == g.id)).where(
            gm.tenant_id == self.tenant_id, gm.person_id == person_id)
        attended = select(s.association_id).join(a, and_(a.tenant_id == s.tenant_id, a.session_id == s.id)).where(
            a.tenant_id == self.tenant_id, a.person_id == person_id)
        return set(self.conn.execute(on_roster.union(attended)).scalars())

    def may_change_person(self, person_id: int) -> bool:
        """Whether the partner may change the shared, stored person: every association that reported the
        person (roster or session) authorised this partner, or nobody has reported the person yet and no
        other partner knows it (this partner's own earlier PUT, e.g. a typo corrected before the first
        session). One session pushed for an authorising association does not hand over a person that another
        association reported too: that association's name stays, and the partner's is kept as the
        authorising association's typed name only."""
        reporters = self.reporting_associations(person_id)
        if reporters:
            return not reporters - self.authorised_ids()
        pp = PartnerPerson
        return self.conn.execute(select(pp.person_id).where(
            pp.tenant_id == self.tenant_id, pp.person_id == person_id,
            pp.partner_client_id != self.partner_id).limit(1)).first() is None

    # --- writes -----------------------------------------------------------------------------------------

    def write_sessions(self, items: list[tuple[int, dict]]) -> WriteResult:
        """Validate keys and authorisation of loaded session items, then ingest them as one batch."""
        result = WriteResult()
        auth_ids = self.authorised_ids()
        kommunkod = None
        orgnrs: dict[int, str | None] = {}
        for index, item in items:
            orgnrs[index] = normalise_orgnr_or_none(item.get("organisationsnummer"))
        assocs = self.associations_by_orgnr({o for o in orgnrs.values() if o})
        adds = [(i, it) for i, it in items if it.get("method", "add") == "add"]
        groups = self.groups_by_card({it["card_number"] for _, it in adds if it.get("card_number")})
        existing = self.sessions_by_kod({it["kod"] for _, it in items if it.get("kod")})

        seen_kod: dict[str, int] = {}
        commands: list[SessionCommand] = []
        prepared: dict[int, tuple[dict, list[tuple[str, int]], str | None]] = {}
        facility_of: dict[int, str] = {}

        for index, item in items:
            kod = item.get("kod")
            method = item.get("method", "add")

            def refuse(fld: str | None, reason: str, status: int = 422, index=index, kod=kod) -> None:
                result.refused.append(ItemRefusal(index, kod, fld, reason, status))

            if kod in seen_kod:
                refuse("kod", f"the session code appears twice in this request (first at index {seen_kod[kod]})")
                continue
            seen_kod[kod] = index
            if item.get("kommunkod"):
                kommunkod = kommunkod or self.kommunkod()
                if item["kommunkod"] != kommunkod:
                    refuse("kommunkod", f"wrong municipality: these credentials belong to municipality "
                                        f"{kommunkod}, not {item['kommunkod']}")
                    continue
            given_orgnr = item.get("organisationsnummer")
            orgnr = orgnrs[index]
            if given_orgnr and orgnr is None:
                refuse("organisationsnummer", "not a valid organisation number (10 digits with a correct "
                                              "check digit)")
                continue
            prev = existing.get(kod)
            if method == "add":
                found = assocs.get(orgnr or "")
                if found is None:
                    refuse("organisationsnummer", "no association with this organisation number in this "
                                                  "municipality", 422)
                    continue
                association_id = found[0]
                if association_id not in auth_ids:
                    refuse("organisationsnummer", "the association has not authorised this partner", 403)
                    continue
                group = groups.get(item["card_number"])
                if group is None:
                    refuse("card_number", f"unknown card number {item['card_number']}: PUT /api/v1/associations/"
                                          f"{orgnr}/groups/{item['card_number']} first")
                    continue
                if group[1] != association_id:
                    refuse("card_number", "the card belongs to another association", 409)
                    continue
                if prev is not None and prev[1] != association_id:
                    refuse("kod", "a session with this code belongs to another association", 409)
                    continue
                group_id = group[0]
                date = item.get("date")
            else:
                if prev is None:
                    refuse("kod", f"no session with the code {kod} to {method}", 404)
                    continue
                association_id = prev[1]
                if orgnr is not None and assocs.get(orgnr, (None,))[0] != association_id:
                    refuse("organisationsnummer", "the session belongs to another association", 409)
                    continue
                if association_id not in auth_ids:
                    refuse("kod", "the session's association has withdrawn its authorisation of this partner",
                           403)
                    continue
                group_id = None
                date = item.get("date") or prev[2]
            if item.get("facility") and method == "add":
                facility_of[index] = item["facility"]
            marks, where = self._marks(item) if method != "remove" else ([], [])
            cmd = SessionCommand(
                association_id=association_id, group_id=group_id, session_date=date,
                start_time=item.get("start_time") if method == "add" else None,
                stop_time=item.get("stop_time") if method == "add" else None,
                channel="api", method=method, stop_date=item.get("stop_date") if method == "add" else None,
                activity=item.get("activity") if method == "add" else None,
                session_type=item.get("type") or "Traening", team_sport=bool(item.get("team_sport")),
                partner_client_id=self.partner_id, partner_code=kod, attendance=marks, ref=str(index))
            commands.append(cmd)
            prepared[index] = (item, where, orgnr)

        if facility_of:
            fac = self.facility_ids(set(facility_of.values()))
            for cmd in commands:
                name = facility_of.get(int(cmd.ref))
                if name:
                    cmd.facility_id = fac[name.casefold()]

        intake = ingest(commands) if commands else None
        if intake is None:
            return result
        for r in intake.refused:
            index = int(r.ref)
            item, where, orgnr = prepared[index]
            fld, reason, status = self._translate(r.field, r.reason, item, where, orgnr, r.code)
            result.refused.append(ItemRefusal(index, r.partner_code, fld, reason, status, r.code))
        for o in intake.accepted:
            result.accepted.append(ItemAccepted(
                int(o.ref), o.partner_code, o.action, o.session_id, o.participations, o.leader_participations,
                [clash_note(n) for n in o.notes]))
        return result

    @staticmethod
    def _marks(item: dict) -> tuple[list[AttendanceMark], list[tuple[str, int]]]:
        marks: list[AttendanceMark] = []
        where: list[tuple[str, int]] = []
        for list_name, default_role in (("participants", "participant"), ("leaders", "leader")):
            for j, m in enumerate(item.get(list_name) or []):
                role = "temporary_leader" if m.get("temporary_leader") else default_role
                ref = PersonRef(personnummer=m.get("personnummer") or None, first_name=m.get("first_name"),
                                last_name=m.get("last_name"), birth_date=m.get("birth_date"),
                                sex=m.get("sex"), external_id=m.get("person_id") or None)
                marks.append(AttendanceMark(ref, role, present=bool(m.get("present", True)),
                                            disability=bool(m.get("disability", False))))
                where.append((list_name, j))
        return marks, where

    @staticmethod
    def _translate(fld: str | None, reason: str, item: dict, where: list[tuple[str, int]],
                   orgnr: str | None, code: str | None = None) -> tuple[str | None, str, int]:
        """An intake refusal in the API's words: field names of the request, a status for single writes."""
        names = {"group_id": "card_number", "facility_id": "facility", "association": "organisationsnummer",
                 "type": "type"}
        status = 422
        if fld and fld.startswith("attendance["):
            head, _, rest = fld.partition("].")
            pos = int(head[len("attendance["):])
            list_name, j = where[pos]
            mark = (item.get(list_name) or [])[j]
            if rest in ("id", "person_id"):
                ext = mark.get("person_id")
                reason = (f"unknown person_id {ext}: PUT /api/v1/associations/{orgnr or '{orgnr}'}/people/{ext} "
                          "first, or give personnummer or first_name, last_name and birth_date inline")
                rest = "person_id"
            fld = f"{list_name}[{j}].{rest}"
        elif fld in names:
            fld = names[fld]
        if code in LOCK_CODES:  # a locked grant period: the request conflicts with the stored state
            status = 409
        elif fld == "kod" and reason.startswith("no such session"):
            status = 404
        elif fld == "kod" and "another association" in reason:
            status = 409
        elif code == CONCURRENT_WRITE:  # lost a race for the same session code
            status = 409
        return fld, reason, status

    # --- reads ------------------------------------------------------------------------------------------

    def external_ids(self, person_ids: set[int]) -> dict[int, str]:
        """Our person id -> the partner's person id (the smallest when there are several)."""
        out: dict[int, str] = {}
        pp = PartnerPerson
        for chunk in _chunks(sorted(person_ids)):
            for pid, ext in self.conn.execute(select(pp.person_id, func.min(pp.external_id)).where(
                    pp.tenant_id == self.tenant_id, pp.partner_client_id == self.partner_id,
                    pp.person_id.in_(chunk)).group_by(pp.person_id)):
                out[pid] = ext
        return out

    def clash_notes(self, session_ids: list[int]) -> dict[int, list[dict]]:
        """Clash flags on these sessions as their reporter may see them, by session id."""
        from apn.clash import flags_for_sessions

        views = flags_for_sessions(self.tenant_id, sorted(set(session_ids))) if session_ids else {}
        return {sid: [clash_note(v) for v in notes] for sid, notes in views.items()}

    def session_views(self, session_ids: list[int], with_clashes: bool = True) -> dict[int, dict]:
        """The partner's view of stored sessions by id (with their clash flags unless told not to)."""
        if not session_ids:
            return {}
        s, a, g, f = ActivitySession, Association, Group, Facility
        rows: dict[int, dict] = {}
        for chunk in _chunks(sorted(set(session_ids))):
            stmt = (select(s.id, s.partner_code, s.session_date, s.start_time, s.stop_time, s.stop_date,
                           s.activity, s.session_type, s.team_sport, s.updated_at, a.organisationsnummer,
                           g.partner_card_number, f.name.label("facility"))
                    .join(a, and_(a.tenant_id == s.tenant_id, a.id == s.association_id))
                    .join(g, and_(g.tenant_id == s.tenant_id, g.id == s.group_id))
                    .outerjoin(f, and_(f.tenant_id == s.tenant_id, f.id == s.facility_id))
                    .where(s.tenant_id == self.tenant_id, s.id.in_(chunk)))
            for r in self.conn.execute(stmt).mappings():
                rows[r["id"]] = {
                    "kod": r["partner_code"], "organisationsnummer": r["organisationsnummer"],
                    "card_number": r["partner_card_number"], "date": r["session_date"],
                    "start_time": r["start_time"], "stop_time": r["stop_time"], "stop_date": r["stop_date"],
                    "activity": r["activity"], "facility": r["facility"], "type": r["session_type"],
                    "team_sport": r["team_sport"], "updated_at": as_utc(r["updated_at"]),
                    "participants": [], "leaders": [],
                    "counts": {"participations": 0, "leader_participations": 0}, "clashes": [],
                }
        marks: list[tuple] = []
        for chunk in _chunks(sorted(rows)):
            marks.extend(self.conn.execute(select(
                Attendance.session_id, Attendance.person_id, Attendance.role, Attendance.present,
                Attendance.disability).where(Attendance.tenant_id == self.tenant_id,
                                             Attendance.session_id.in_(chunk))
                .order_by(Attendance.session_id, Attendance.person_id)).all())
        ext = self.external_ids({m[1] for m in marks})
        for sid, pid, role, present, disability in marks:
            view = rows[sid]
            mark = {"person_id": ext.get(pid), "present": bool(present), "disability": bool(disability)}
            if role == "leader":
                view["leaders"].append(mark)
            else:
                mark["temporary_leader"] = role == "temporary_leader"
                view["participants"].append(mark)
            if present:
                key = "participations" if role == "participant" else "leader_participations"
                view["counts"][key] += 1
        if with_clashes:
            for sid, notes in self.clash_notes(list(rows)).items():
                rows[sid]["clashes"] = notes
        return rows

    def session_page(self, changed_since: dt.datetime | None, cursor: tuple[dt.datetime, int] | None,
                     limit: int) -> tuple[list[dict], str | None]:
        """A page of the partner's sessions in authorised associations, oldest change first."""
        s, pa = ActivitySession, PartnerAuthorisation
        stmt = (select(s.id, s.updated_at)
                .join(pa, and_(pa.tenant_id == s.tenant_id, pa.association_id == s.association_id,
                               pa.partner_client_id == s.partner_client_id, pa.withdrawn_at.is_(None)))
                .where(s.tenant_id == self.tenant_id, s.partner_client_id == self.partner_id))
        if changed_since is not None:
            stmt = stmt.where(s.updated_at >= changed_since)
        if cursor is not None:
            at, last_id = cursor
            stmt = stmt.where(or_(s.updated_at > at, and_(s.updated_at == at, s.id > last_id)))
        page = self.conn.execute(stmt.order_by(s.updated_at, s.id).limit(limit + 1)).all()
        more = len(page) > limit
        page = page[:limit]
        views = self.session_views([r[0] for r in page])
        items = [views[r[0]] for r in page if r[0] in views]
        next_cursor = encode_cursor(as_utc(page[-1][1]), page[-1][0]) if more and page else None
        return items, next_cursor


def clash_note(note: dict) -> dict:
    """A clash note or flag view without internal ids: kind, status, message (English and Swedish)."""
    return {"kind": note.get("kind"), "status": note.get("status", "open"), "message": note.get("message"),
            "message_sv": note.get("message_sv")}


def as_utc(value: dt.datetime) -> dt.datetime:
    """A stored timestamp as an aware UTC datetime (SQLite gives naive UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def parse_instant(value: str, fld: str, location: str = "query") -> dt.datetime:
    """An ISO 8601 date or date-time as an aware UTC datetime (no offset means UTC), else a 422."""
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.astimezone(dt.UTC)
    except (ValueError, OverflowError, TypeError, AttributeError):
        raise DomainError("must be an ISO 8601 date-time, e.g. 2025-03-01T00:00:00Z", field=fld,
                          location=location) from None


def encode_cursor(at: dt.datetime, session_id: int) -> str:
    """Opaque cursor: base64 of (updated_at, id)."""
    raw = json.dumps([at.isoformat(), session_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    """The (updated_at, id) of a cursor, or a 422 on the cursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, sid = json.loads(raw.decode())
        if not isinstance(sid, int) or isinstance(sid, bool) or not 0 <= sid < 2**63:
            raise ValueError
        parsed = dt.datetime.fromisoformat(at)
        return as_utc(parsed), sid
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, OverflowError, RecursionError):
        raise DomainError("not a cursor this API gave out; start again without cursor", field="cursor",
                          location="query") from None
