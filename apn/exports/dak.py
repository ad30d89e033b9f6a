"""DAK export: an association's sessions of one grant period as a DAK 2.2 (or 2.1) file.

The file is checked against the schema before it is returned. DAK requires a ``Personnummer`` for every
register entry, so people registered without one (name + birth date only) are left out of the file, with
their attendance marks; :class:`DakExport` says how many people and marks were left out. A DAK 2.1 file
cannot say that a session ends on a later date (no ``StoppDatum``), so sessions crossing midnight are left
out of 2.1 exports and counted too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree
from sqlalchemy import select

from apn.errors import DomainError, NotFound
from apn.extensions import db
from apn.formats.dak.parser import NS_21, NS_22, schema
from apn.identity import decrypt_pnr
from apn.models import ActivitySession, Association, Attendance, Facility, GrantPeriod, Group, Person, Tenant
from apn.tenancy import tenant_scope

VERSIONS = ("2.1", "2.2")


@dataclass
class DakExport:
    """The file and what it holds (the DAK convention: say how many sessions and participations)."""

    xml: bytes
    counts: dict[str, int]
    left_out: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Counts and what was left out, for the page or the CLI."""
        return {"file": dict(self.counts), "left_out": dict(self.left_out)}


def _chunks(items: list, size: int = 900):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def export_dak_report(tenant_id: int, association_id: int, period_code: str, version: str = "2.2",
                      kommun_id: str | None = None) -> DakExport:
    """Build the DAK file of an association's sessions in a period, with its counts.

    ``kommun_id`` is the municipality code written in ``Kommun@kommunID``: the tenant's own by default; give
    the receiving municipality's code when an association moves its data to another municipality's system.
    """
    if version not in VERSIONS:
        raise DomainError("the DAK version must be 2.1 or 2.2", field="version")
    with tenant_scope(tenant_id):
        tenant = db.session.get(Tenant, tenant_id)
        assoc = db.session.execute(select(Association).where(
            Association.tenant_id == tenant_id, Association.id == association_id)).scalar_one_or_none()
        if tenant is None or assoc is None:
            raise NotFound("unknown association", field="association")
        period = db.session.execute(select(GrantPeriod).where(
            GrantPeriod.tenant_id == tenant_id, GrantPeriod.code == period_code)).scalar_one_or_none()
        if period is None:
            raise NotFound(f"unknown grant period {period_code!r}", field="period")
        sessions = db.session.execute(select(
            ActivitySession.id, ActivitySession.group_id, ActivitySession.session_date, ActivitySession.start_time,
            ActivitySession.stop_time, ActivitySession.stop_date, ActivitySession.activity,
            ActivitySession.facility_id, ActivitySession.session_type, ActivitySession.team_sport,
        ).where(ActivitySession.tenant_id == tenant_id, ActivitySession.association_id == association_id,
                ActivitySession.session_date >= period.starts_on, ActivitySession.session_date <= period.ends_on,
                ).order_by(ActivitySession.group_id, ActivitySession.session_date, ActivitySession.start_time,
                           ActivitySession.id)).mappings().all()
        group_ids = sorted({s["group_id"] for s in sessions})
        groups = {g["id"]: g for g in db.session.execute(select(
            Group.id, Group.name, Group.main_activity, Group.main_facility_id).where(
            Group.tenant_id == tenant_id, Group.id.in_(group_ids))).mappings()} if group_ids else {}
        fac_ids = {s["facility_id"] for s in sessions} | {g["main_facility_id"] for g in groups.values()}
        fac_ids.discard(None)
        facilities = dict(db.session.execute(select(Facility.id, Facility.name).where(
            Facility.tenant_id == tenant_id, Facility.id.in_(fac_ids))).all()) if fac_ids else {}
        marks: dict[int, list] = {}
        people: dict[int, dict] = {}
        sids = [s["id"] for s in sessions]
        for chunk in _chunks(sids):
            rows = db.session.execute(select(
                Attendance.session_id, Attendance.person_id, Attendance.role, Attendance.present,
                Attendance.disability, Person.first_name, Person.last_name, Person.pnr_encrypted,
            ).join(Person, (Person.tenant_id == Attendance.tenant_id) & (Person.id == Attendance.person_id)).where(
                Attendance.tenant_id == tenant_id, Attendance.session_id.in_(chunk)
            ).order_by(Attendance.session_id, Attendance.role, Attendance.person_id)).all()
            for sid, pid, role, present, disability, first, last, enc in rows:
                marks.setdefault(sid, []).append((pid, role, bool(present), bool(disability)))
                if pid not in people:
                    people[pid] = {"first": first, "last": last, "enc": enc}
        kommun = kommun_id or tenant.kommunkod
        return _build(version, kommun, assoc, sessions, groups, facilities, marks, people)


def _build(version, kommun, assoc, sessions, groups, facilities, marks, people) -> DakExport:
    ns = NS_22 if version == "2.2" else NS_21

    def el(parent, name: str, text: str | None = None, **attrs):
        e = etree.SubElement(parent, f"{{{ns}}}{name}", {k: v for k, v in attrs.items() if v is not None})
        if text is not None:
            e.text = text
        return e

    pnrs: dict[int, str] = {}
    for pid, p in people.items():
        if p["enc"]:
            pnrs[pid] = decrypt_pnr(p["enc"])
    root = etree.Element(f"{{{ns}}}Aktivitetskort", nsmap={None: ns})
    k_el = el(root, "Kommun", kommunID=str(int(kommun)), version=version)
    f_el = el(k_el, "Foerening", foereningsID=str(assoc.id), foereningsNamn=assoc.name,
              organisationsnummer=assoc.organisationsnummer)
    counts = {"sessions": 0, "participations": 0, "leader_participations": 0}
    left = {"people": 0, "participations": 0, "leader_participations": 0, "marks": 0, "sessions": 0}
    in_register: dict[str, set[int]] = {"participant": set(), "leader": set()}
    left_people: set[int] = set()
    current_group = None
    box = None
    for s in sessions:
        if version == "2.1" and s["stop_date"] is not None:
            left["sessions"] += 1
            continue
        g = groups[s["group_id"]]
        if s["group_id"] != current_group:
            current_group = s["group_id"]
            c_el = el(f_el, "Naervarokort", NaervarokortNummer=str(g["id"]))
            el(c_el, "Aktivitet", (g["main_activity"] or g["name"])[:150])
            el(c_el, "Lokal", (facilities.get(g["main_facility_id"]) or "")[:150])
            el(c_el, "NamnPaaKort", g["name"][:50])
            box = el(c_el, "Sammankomster")
        s_el = el(box, "Sammankomst", kod=f"apn-{s['id']}", Datum=s["session_date"].isoformat())
        el(s_el, "StartTid", s["start_time"].strftime("%H:%M:%S"))
        el(s_el, "StoppTid", s["stop_time"].strftime("%H:%M:%S"))
        if s["stop_date"] is not None:
            el(s_el, "StoppDatum", s["stop_date"].isoformat())
        el(s_el, "Aktivitet", (s["activity"] or g["main_activity"] or g["name"])[:150])
        el(s_el, "Lokal", (facilities.get(s["facility_id"]) or facilities.get(g["main_facility_id"]) or "")[:150])
        el(s_el, "Typ", s["session_type"])
        el(s_el, "Metod", "Add")
        el(s_el, "Lagidrott", "true" if s["team_sport"] else "false")
        counts["sessions"] += 1
        parts = [m for m in marks.get(s["id"], []) if m[1] != "leader"]
        leads = [m for m in marks.get(s["id"], []) if m[1] == "leader"]
        for list_name, item, items in (("DeltagarLista", "Deltagare", parts), ("LedarLista", "Ledare", leads)):
            lst = el(s_el, list_name)
            for pid, role, present, disability in items:
                is_leader = role != "participant"
                if pid not in pnrs:
                    left_people.add(pid)
                    left["marks"] += 1
                    if present:
                        left["leader_participations" if is_leader else "participations"] += 1
                    continue
                m_el = el(lst, item, id=f"p{pid}")
                el(m_el, "Handikapp", "true" if disability else "false")
                el(m_el, "Naervarande", "true" if present else "false")
                if role == "temporary_leader":
                    el(m_el, "TillfaelligLedare", "true")
                in_register["leader" if role == "leader" else "participant"].add(pid)
                if present:
                    counts["leader_participations" if is_leader else "participations"] += 1
    left["people"] = len(left_people)
    for reg_name, item, kind in (("DeltagarRegister", "Deltagare", "participant"),
                                 ("LedarRegister", "Ledare", "leader")):
        reg = el(root, reg_name)
        for pid in sorted(in_register[kind]):
            p = people[pid]
            r_el = el(reg, item, id=f"p{pid}")
            el(r_el, "Foernamn", p["first"])
            el(r_el, "Efternamn", p["last"])
            el(r_el, "Personnummer", pnrs[pid])
    tree = etree.ElementTree(root)
    xsd = schema(version)
    if not xsd.validate(tree):  # our own bug if it happens: never hand out an invalid file
        raise RuntimeError(f"DAK export does not validate: {xsd.error_log.last_error}")
    xml = etree.tostring(tree, xml_declaration=True, encoding="utf-8", pretty_print=True)
    return DakExport(xml, counts, left)


def export_dak(tenant_id: int, association_id: int, period_code: str, version: str = "2.2",
               kommun_id: str | None = None) -> bytes:
    """The DAK file (bytes) of an association's sessions in a period; see :func:`export_dak_report`."""
    return export_dak_report(tenant_id, association_id, period_code, version, kommun_id).xml


def export_dak_counts(tenant_id: int, association_id: int, period_code: str, version: str = "2.2") -> dict:
    """What the export holds (sessions, participations, leader participations) and what it leaves out."""
    return export_dak_report(tenant_id, association_id, period_code, version).as_dict()
