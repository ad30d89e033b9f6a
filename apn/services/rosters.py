"""Rosters: groups, people on them, roster import from CSV or xlsx with a row-by-row report.

People are resolved and created through :func:`apn.intake.people.resolve`, the same code the intake uses,
so a person added here is the same person a session report names. Import is set-based: every row is checked
first, the good rows are resolved in one batch and put on the roster with one insert; refused rows are
listed with their line, column and reason and nothing of them is written.

Reasons are translated with Flask-Babel (the report is shown on a page in the user's language).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import insert, select

from apn.errors import DomainError, NotFound
from apn.exports.cells import is_formula_like
from apn.extensions import db
from apn.formats import spreadsheet
from apn.identity import NOT_DIGITS, IdentityError, parse_personnummer
from apn.intake.commands import PersonRef
from apn.intake.people import PersonProblem, resolve
from apn.models import Association, AuditEntry, Facility, Group, GroupMember, Person
from apn.models.group import ROSTER_ROLES
from apn.services.locking import lock_parent
from apn.tenancy import require_tenant_id

MAX_ROWS = 5000
MAX_BYTES = 5 * 1024 * 1024
#: Rows, lines, columns, cell length and unpacked size a roster file may have (see docs/association-guide.md).
LIMITS = spreadsheet.Limits(max_rows=MAX_ROWS)
#: Text-direction controls (embeddings, overrides, isolates): they can make one name display as another.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")

#: Column headings understood in a roster file (lower-cased, spaces and dashes as underscores).
HEADINGS = {
    "personnummer": "personnummer", "personal_number": "personnummer", "personal_identity_number": "personnummer",
    "pnr": "personnummer", "samordningsnummer": "personnummer",
    "förnamn": "first_name", "fornamn": "first_name", "first_name": "first_name", "firstname": "first_name",
    "efternamn": "last_name", "last_name": "last_name", "lastname": "last_name", "surname": "last_name",
    "födelsedatum": "birth_date", "fodelsedatum": "birth_date", "birth_date": "birth_date",
    "birthdate": "birth_date", "date_of_birth": "birth_date",
    "kön": "sex", "kon": "sex", "sex": "sex", "gender": "sex",
    "roll": "role", "role": "role",
}
ROLE_VALUES = {"deltagare": "participant", "participant": "participant", "ledare": "leader", "leader": "leader"}
SEX_VALUES = {"f": "F", "k": "F", "flicka": "F", "kvinna": "F", "girl": "F", "woman": "F", "female": "F",
              "m": "M", "p": "M", "pojke": "M", "man": "M", "boy": "M", "male": "M",
              "x": "X", "annat": "X", "other": "X"}
_IDENTITY_REASONS = {
    "must be 12 digits, YYYYMMDDNNNN": lambda: _("must be 12 digits, YYYYMMDDNNNN"),
    "the date part is not a real date": lambda: _("the date part is not a real date"),
    "the birth date is out of range": lambda: _("the birth date is out of range"),
    "the check digit is wrong": lambda: _("the check digit is wrong"),
    NOT_DIGITS: lambda: _("must be written with the digits 0–9 only"),
}


@dataclass
class RowRefusal:
    """One refused value of a roster file: the line, the column and why."""

    line: int
    column: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for templates and JSON."""
        return {"line": self.line, "column": self.column, "reason": self.reason}


@dataclass
class RosterReport:
    """What an import did: rows read, people added to the roster, already there, and refusals."""

    rows: int = 0
    added: int = 0
    already_on_roster: int = 0
    refused: list[RowRefusal] = field(default_factory=list)

    @property
    def refused_lines(self) -> int:
        """How many lines had at least one refusal."""
        return len({r.line for r in self.refused})


# --- groups ---------------------------------------------------------------------------------------------------

def groups_of(association_id: int) -> list[Group]:
    """The association's groups, active first, by name."""
    return list(db.session.execute(select(Group).where(Group.association_id == association_id)
                                   .order_by(Group.active.desc(), Group.name, Group.id)).scalars())


def group_of(association_id: int, group_id: int) -> Group:
    """The association's group ``group_id`` (404 for another association's or tenant's group)."""
    group = Group.get_by_id(group_id)
    if group is None or group.association_id != association_id:
        raise NotFound("The group was not found.", field="group_id")
    return group


def facilities() -> list[Facility]:
    """The bound tenant's facilities by name."""
    return list(db.session.execute(select(Facility).order_by(Facility.name)).scalars())


def save_group(association_id: int, data: dict[str, Any], group: Group | None = None) -> Group:
    """Create a group of the association, or update ``group``, from form data."""
    tenant_id = require_tenant_id()
    name = (data.get("name") or "").strip()
    if not name:
        raise DomainError("Enter a name.", field="name")
    facility_id = data.get("main_facility_id")
    if facility_id is not None and Facility.get_by_id(facility_id) is None:
        raise NotFound("The facility was not found.", field="main_facility_id")
    lock_parent(Association.id, association_id)  # two saves of one name at once: the second sees the first
    clash = db.session.execute(select(Group.id).where(Group.association_id == association_id, Group.name == name,
                                                      Group.id != (group.id if group else -1))).first()
    if clash:
        raise DomainError("The association has a group with this name already.", field="name", status=409)
    if group is None:
        group = Group(tenant_id=tenant_id, association_id=association_id, name=name)
        db.session.add(group)
    group.name = name
    group.main_activity = (data.get("main_activity") or "").strip() or None
    group.main_facility_id = facility_id
    group.usual_weekday = data.get("usual_weekday")
    group.usual_start = data.get("usual_start")
    group.usual_stop = data.get("usual_stop")
    group.active = bool(data.get("active", True))
    db.session.flush()
    return group


# --- people on a roster ----------------------------------------------------------------------------------------

def roster(group: Group) -> list[tuple[Person, str]]:
    """The people on a group's roster with their role, leaders first, by name."""
    rows = db.session.execute(
        select(Person, GroupMember.role)
        .join(GroupMember, (GroupMember.tenant_id == Person.tenant_id) & (GroupMember.person_id == Person.id))
        .where(GroupMember.group_id == group.id)
        .order_by(GroupMember.role.desc(), Person.last_name, Person.first_name, Person.id)
    ).all()
    return [(p, role) for p, role in rows]


def record_view(user_id: int | None, group: Group, person_ids: list[int]) -> None:
    """Write to the audit log that ``user_id`` looked at the roster (the people's ids, never numbers)."""
    db.session.add(AuditEntry(tenant_id=group.tenant_id, actor_user_id=user_id, action="person.view",
                              entity="group", entity_id=str(group.id),
                              after={"person_ids": sorted(person_ids), "count": len(person_ids)}))
    db.session.flush()


#: Audit action recorded when an association's typed names are kept (the names live in
#: ``association_person_name``; the log holds who wrote them for which people, and is never read for display).
NAME_AS_TYPED = "person.name_as_typed"


def remember_typed_names(association_id: int, typed: list[tuple[int, str, str]], user_id: int | None = None,
                         client_id: int | None = None) -> None:
    """Keep the names an association typed for people (``typed``: person id, first name, last name); the
    audit log records who (``user_id`` or the partner's ``client_id``) for which people.

    A person matched by a personal number has one stored name, typed by whoever reported the person first.
    The association's pages show the name it typed itself (see :func:`names_for`), never that one, so that
    typing a number discloses nothing. One row per association and person in ``association_person_name``,
    the latest typing winning; every writer (roster add and import, the leader's new participant, the
    partner's person write) comes through here.
    """
    if not typed:
        return
    from apn.intake.bulk import insert_rows
    from apn.models import AssociationPersonName
    from apn.models.base import utcnow

    tenant_id = require_tenant_id()
    now = utcnow()
    rows: dict[int, dict[str, Any]] = {}  # one row per person: the last typing of this call wins
    for pid, first, last in typed:
        rows[pid] = {"tenant_id": tenant_id, "association_id": association_id, "person_id": pid,
                     "first_name": (first or "").strip()[:50] or "?", "last_name": (last or "").strip()[:50] or "?",
                     "updated_at": now}
    db.session.flush()  # the people and the association are in the database before the rows that name them
    insert_rows(db.session.connection(), AssociationPersonName.__table__, list(rows.values()),
                on_conflict=("tenant_id", "association_id", "person_id"),
                update=("first_name", "last_name", "updated_at"))
    db.session.add(AuditEntry(tenant_id=tenant_id, actor_user_id=user_id, actor_client_id=client_id,
                              action=NAME_AS_TYPED, entity="association", entity_id=str(association_id),
                              after={"person_ids": sorted(rows), "count": len(rows)}))
    db.session.flush()


def names_for(association_id: int, stored: dict[int, str]) -> dict[int, str]:
    """The name to show to an association for each person (``stored``: person id → stored name): the one
    the association typed (``association_person_name``), else the stored one."""
    from apn.models import AssociationPersonName as Named

    out = dict(stored)
    ids = sorted(stored)
    for i in range(0, len(ids), 900):
        for pid, first, last in db.session.execute(select(Named.person_id, Named.first_name, Named.last_name).where(
                Named.association_id == association_id, Named.person_id.in_(ids[i:i + 900]))):
            out[pid] = f"{first} {last}"
    return out


def _parse_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value or "").strip()
    for fmt in ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _identity_reason(exc: IdentityError) -> str:
    text = str(exc)
    label = _IDENTITY_REASONS.get(text)
    return label() if label else text


def _name_problem(value: str) -> str | None:
    """Why a (stripped) name cannot be stored: a formula trigger first, or a control or bidi character."""
    if is_formula_like(value):
        return _("may not begin with =, +, - or @ (a spreadsheet would run it as a formula)")
    if _BIDI.search(value) or any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in value):
        return _("may not hold control characters (such as NUL, tab or a line break) or text-direction characters")
    return None


def check_row(values: dict[str, Any], default_role: str) -> tuple[PersonRef | None, str, list[tuple[str, str]]]:
    """Check one row (keys: the canonical column names). Returns the person reference, the role, and the
    problems as (column, reason)."""
    problems: list[tuple[str, str]] = []
    role_raw = str(values.get("role") or "").strip().lower()
    role = ROLE_VALUES.get(role_raw) if role_raw else default_role
    if role is None:
        problems.append(("role", _("must be participant (deltagare) or leader (ledare)")))
        role = default_role
    first = str(values.get("first_name") or "").strip()
    last = str(values.get("last_name") or "").strip()
    for col, val in (("first_name", first), ("last_name", last)):
        if len(val) > 50:
            problems.append((col, _("may be at most 50 characters")))
        elif problem := _name_problem(val):
            problems.append((col, problem))
    if not first:
        problems.append(("first_name", _("is missing")))
    if not last:
        problems.append(("last_name", _("is missing")))
    pnr_raw = values.get("personnummer")
    pnr = str(pnr_raw).strip() if pnr_raw not in (None, "") else ""
    if pnr:
        try:
            parsed = parse_personnummer(pnr)
        except IdentityError as exc:
            problems.append(("personnummer", _("personal identity number %(reason)s", reason=_identity_reason(exc))))
            return None, role, problems
        if problems:
            return None, role, problems
        return PersonRef(personnummer=parsed.number, first_name=first, last_name=last), role, problems
    birth_raw = values.get("birth_date")
    birth = _parse_date(birth_raw)
    if birth_raw in (None, ""):
        problems.append(("birth_date", _("is missing (needed when there is no personal identity number)")))
    elif birth is None:
        problems.append(("birth_date", _("is not a date; write YYYY-MM-DD")))
    elif birth.year < 1900 or birth > dt.date.today():
        problems.append(("birth_date", _("is out of range")))
    sex_raw = str(values.get("sex") or "").strip().lower()
    sex = SEX_VALUES.get(sex_raw)
    if not sex_raw:
        problems.append(("sex", _("is missing (needed when there is no personal identity number)")))
    elif sex is None:
        problems.append(("sex", _("must be F, M or X")))
    if problems:
        return None, role, problems
    return PersonRef(first_name=first, last_name=last, birth_date=birth, sex=sex), role, problems


def _put_on_roster(group: Group, people: list[tuple[int, str]]) -> tuple[int, int]:
    """Insert the (person id, role) pairs not yet on the roster; returns (added, already there)."""
    if not people:
        return 0, 0
    lock_parent(Group.id, group.id)  # two adds of one person at once: the second finds them on the roster
    present = set(db.session.execute(select(GroupMember.person_id).where(
        GroupMember.tenant_id == group.tenant_id, GroupMember.group_id == group.id,
        GroupMember.person_id.in_([p for p, _r in people]))).scalars())
    new_rows, seen = [], set()
    for pid, role in people:
        if pid in present or pid in seen:
            continue
        seen.add(pid)
        new_rows.append({"tenant_id": group.tenant_id, "group_id": group.id, "person_id": pid, "role": role})
    if new_rows:
        db.session.execute(insert(GroupMember), new_rows)
    return len(new_rows), len(people) - len(new_rows)


def add_person(group: Group, values: dict[str, Any]) -> tuple[int, bool]:
    """Put one person on the roster (creating the person if needed). Returns (person id, newly added).

    :class:`DomainError` names the first field that is wrong.
    """
    role = values.get("role") or "participant"
    if role not in ROSTER_ROLES:
        raise DomainError(_("must be participant (deltagare) or leader (ledare)"), field="role")
    ref, role, problems = check_row(values, role)
    if problems or ref is None:
        col, reason = problems[0]
        raise DomainError(reason, field=col)
    resolved = resolve(group.tenant_id, [ref])[id(ref)]
    if isinstance(resolved, PersonProblem):
        raise DomainError(resolved.message, field=resolved.field)
    remember_typed_names(group.association_id, [(resolved, ref.first_name or "", ref.last_name or "")])
    added, _already = _put_on_roster(group, [(resolved, role)])
    db.session.flush()
    return resolved, bool(added)


def remove_member(group: Group, person_id: int) -> None:
    """Take a person off the roster (the person and their attendance stay)."""
    member = db.session.get(GroupMember, (group.tenant_id, group.id, int(person_id)))
    if member is None:
        raise NotFound("The person is not on the roster.", field="person_id")
    db.session.delete(member)
    db.session.flush()


# --- import -------------------------------------------------------------------------------------------------------

def _heading(value: Any) -> str:
    return re.sub(r"[\s\-]+", "_", str(value or "").strip().lower())


def _read_csv(data: bytes) -> list[tuple[int, list[Any]]]:
    return spreadsheet.read_csv(data, LIMITS)


def _read_xlsx(data: bytes) -> list[tuple[int, list[Any]]]:
    return spreadsheet.read_xlsx(data, LIMITS)


def _cell(value: Any) -> Any:
    """xlsx numbers that are really identifiers (a personal number typed as a number) become text."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def import_roster(group: Group, data: bytes, filename: str, default_role: str = "participant") -> RosterReport:
    """Import a roster file into ``group``: good rows are kept, every refusal is reported with its line."""
    if default_role not in ROSTER_ROLES:
        raise DomainError(_("must be participant (deltagare) or leader (ledare)"), field="role")
    if len(data) > MAX_BYTES:
        raise DomainError(_("The file is too large (at most 5 MB)."), field="file", status=413)
    name = (filename or "").lower()
    if name.endswith(".xlsx") or data[:2] == b"PK":
        rows = _read_xlsx(data)
    elif name.endswith((".csv", ".txt")) or not name:
        rows = _read_csv(data)
    else:
        raise DomainError(_("Upload a CSV file (.csv) or an Excel file (.xlsx)."), field="file", status=400)
    rows = [(n, r) for n, r in rows if any(str(v).strip() for v in r)]
    if not rows:
        raise DomainError(_("The file is empty."), field="file", status=400)
    header_line, header = rows[0]
    columns = [HEADINGS.get(_heading(h)) for h in header]
    shown = {c: str(h).strip() for c, h in zip(columns, header, strict=False) if c}
    if "personnummer" not in shown and not {"first_name", "last_name", "birth_date"} <= set(shown):
        raise DomainError(_("Line %(line)d must name the columns: personnummer, or förnamn, efternamn, "
                            "födelsedatum and kön.", line=header_line), field="file", status=400)
    body = rows[1:]
    if len(body) > MAX_ROWS:
        raise DomainError(_("The file has more than %(max)d rows; split it.", max=MAX_ROWS), field="file",
                          status=413)
    report = RosterReport(rows=len(body))
    good: list[tuple[int, PersonRef, str]] = []
    seen: dict[tuple, int] = {}
    for line, row in body:
        values = {c: _cell(v) for c, v in zip(columns, row, strict=False) if c}
        ref, role, problems = check_row(values, default_role)
        if problems or ref is None:
            report.refused.extend(RowRefusal(line, shown.get(col, col), reason) for col, reason in problems)
            continue
        key = (ref.personnummer,) if ref.personnummer else (ref.last_name, ref.first_name, ref.birth_date)
        if key in seen:
            col = "personnummer" if ref.personnummer else "first_name"
            report.refused.append(RowRefusal(line, shown.get(col, col),
                                             _("the same person as on line %(line)d", line=seen[key])))
            continue
        seen[key] = line
        good.append((line, ref, role))
    resolved = resolve(group.tenant_id, [ref for _line, ref, _role in good]) if good else {}
    people: list[tuple[int, str]] = []
    typed: list[tuple[int, str, str]] = []
    for line, ref, role in good:
        pid = resolved[id(ref)]
        if isinstance(pid, PersonProblem):
            report.refused.append(RowRefusal(line, shown.get(pid.field, pid.field), pid.message))
        else:
            people.append((pid, role))
            typed.append((pid, ref.first_name or "", ref.last_name or ""))
    remember_typed_names(group.association_id, typed)
    report.added, report.already_on_roster = _put_on_roster(group, people)
    report.refused.sort(key=lambda r: r.line)
    db.session.flush()
    return report
