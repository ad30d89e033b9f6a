"""The leader's pages: their groups, taking attendance on a phone, the result in plain words, editing and
deleting their own reports, and the JSON endpoints the offline app (PWA) syncs through.

Every session is written through the one intake (:func:`apn.intake.ingest`): channel ``web`` for the plain
form post, ``app`` for the app's sync. The app's sync is idempotent: each attendance carries an
``Idempotency-Key`` made on the phone when it was taken; the first response to a key is stored
(:class:`apn.models.IdempotencyKey`, actor ``user:<id>``) and replayed for repeats.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from apn import tenancy
from apn.api.schemas import Id, Text
from apn.extensions import db
from apn.inputs import parse_id, text_problem
from apn.intake import AttendanceMark, IntakeResult, PersonRef, Refusal, SessionCommand, ingest
from apn.intake.service import (
    DATE_IN_FUTURE,
    LOCKING_REPORTS,
    NO_PERIOD,
    PERIOD_CLOSED,
    PERIOD_DECIDED,
    PERIOD_SUBMITTED,
)
from apn.models import (
    ActivitySession,
    Application,
    Association,
    Attendance,
    Facility,
    GrantPeriod,
    Group,
    GroupMember,
    IdempotencyKey,
    Person,
    RoleGrant,
    Tenant,
)
from apn.models.session import SESSION_TYPES
from apn.web.access import (
    current_tenant,
    install_tenant_routing,
    login_required,
    reporter_group_ids,
    require_group,
)

logger = logging.getLogger(__name__)

bp = Blueprint("leader", __name__, url_prefix="/k/<tenant_slug>")
install_tenant_routing(bp)

#: Tenant-less entry point: "My groups" in the navigation, which finds the user's municipality.
root_bp = Blueprint("leader_root", __name__)

STATIC_APP = Path(__file__).resolve().parent / "static" / "app"
#: Files the service worker keeps for use without coverage (besides the pages the leader has opened).
SHELL_FILES = ("app.js", "leader.css", "icon-192.png", "icon-512.png", "icon.svg")
#: A session that ends earlier in the day than it starts is taken to end the next day when it then lasts
#: at most this long (e.g. 22:30–00:30); otherwise the times are a mistake.
MAX_OVERNIGHT = dt.timedelta(hours=8)
LOCKED_STATUSES = LOCKING_REPORTS  # shown on the pages; the intake refuses


# --- parsing ---------------------------------------------------------------------------------------------

@dataclass
class NewPerson:
    """A participant not on the roster, as typed in."""

    personnummer: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    birth_date: dt.date | None = None
    sex: str | None = None
    disability: bool = False
    temporary_leader: bool = False


@dataclass
class AttendanceForm:
    """What the leader entered, from the form or from the app's JSON, before it becomes a command."""

    session_date: dt.date | None = None
    start_time: dt.time | None = None
    stop_time: dt.time | None = None
    facility_id: int | None = None
    session_type: str = "Traening"
    present: list[int] = field(default_factory=list)
    leaders: list[int] = field(default_factory=list)
    temporary_leaders: set[int] = field(default_factory=set)
    disabled: set[int] = field(default_factory=set)
    new_people: list[NewPerson] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def _parse_date(raw: str | None) -> dt.date | None:
    """An ISO date, or None."""
    try:
        return dt.date.fromisoformat((raw or "").strip())
    except ValueError:
        return None


def _parse_time(raw: str | None) -> dt.time | None:
    """A ``HH:MM`` time, or None."""
    raw = (raw or "").strip()
    try:
        return dt.time.fromisoformat(raw[:5]) if len(raw) >= 4 else None
    except ValueError:
        return None


def _ints(values: list[Any]) -> list[int]:
    """The integers among ``values`` (form fields arrive as strings), in order, without repeats."""
    out: list[int] = []
    for v in values:
        i = parse_id(v)  # ASCII digits within 64 bits only: "²" or a 30-digit number is no id
        if i is not None and i not in out:
            out.append(i)
    return out


def parse_form(form) -> AttendanceForm:
    """Read the attendance form (``request.form``) into an :class:`AttendanceForm` with field errors."""
    data = AttendanceForm()
    data.session_date = _parse_date(form.get("date"))
    if data.session_date is None:
        data.errors["date"] = _("Give the date as YYYY-MM-DD.")
    data.start_time = _parse_time(form.get("start"))
    if data.start_time is None:
        data.errors["start"] = _("Give the start time as HH:MM.")
    data.stop_time = _parse_time(form.get("stop"))
    if data.stop_time is None:
        data.errors["stop"] = _("Give the stop time as HH:MM.")
    fac = (form.get("facility") or "").strip()
    data.facility_id = parse_id(fac)
    if fac and data.facility_id is None:  # not an id at all (the list only offers ids): say so, drop nothing
        data.errors["facility"] = _("Choose a facility from the list.")
    data.session_type = form.get("type") or "Traening"
    data.present = _ints(form.getlist("p"))
    data.leaders = _ints(form.getlist("l"))
    data.temporary_leaders = set(_ints(form.getlist("tl")))
    data.disabled = set(_ints(form.getlist("dis")))
    pnrs = form.getlist("new_pnr")
    firsts = form.getlist("new_first")
    lasts = form.getlist("new_last")
    births = form.getlist("new_birth")
    sexes = form.getlist("new_sex")
    dis = set(form.getlist("new_dis"))
    tls = set(form.getlist("new_tl"))
    for i, pnr in enumerate(pnrs):
        first = (firsts[i] if i < len(firsts) else "").strip()
        last = (lasts[i] if i < len(lasts) else "").strip()
        birth_raw = (births[i] if i < len(births) else "").strip()
        sex = (sexes[i] if i < len(sexes) else "").strip() or None
        pnr = (pnr or "").strip()
        if not (pnr or first or last or birth_raw):
            continue  # the empty "add a participant" block
        person = NewPerson(personnummer=pnr or None, first_name=first or None, last_name=last or None,
                           sex=sex, disability=str(i) in dis, temporary_leader=str(i) in tls)
        if any(text_problem(v) for v in (pnr, first, last)):
            data.errors[f"new_{len(data.new_people)}"] = _(
                "Remove the control characters (invisible characters) from this field.")
        elif not pnr:
            person.birth_date = _parse_date(birth_raw)
            if not (first and last and person.birth_date):
                # numbered as the form shows it again: the entries kept, without empty ones
                data.errors[f"new_{len(data.new_people)}"] = _("Give a personal identity number, or first name, last name and "
                                            "birth date (YYYY-MM-DD).")
        data.new_people.append(person)
    return data


class NewPersonSchema(Schema):
    """A participant not on the roster, in the app's JSON."""

    class Meta:
        unknown = EXCLUDE

    personnummer = Text(max_len=20, load_default=None, allow_none=True)
    first_name = Text(max_len=50, load_default=None, allow_none=True)
    last_name = Text(max_len=50, load_default=None, allow_none=True)
    birth_date = fields.Date(load_default=None)
    sex = fields.String(load_default=None, validate=validate.OneOf(["F", "M", "X"]))
    disability = fields.Boolean(load_default=False)
    temporary_leader = fields.Boolean(load_default=False)


class AppSessionSchema(Schema):
    """One attendance as the app sends it."""

    class Meta:
        unknown = EXCLUDE

    group_id = Id(required=True)
    date = fields.Date(required=True)
    start = fields.Time(required=True)
    stop = fields.Time(required=True)
    facility_id = Id(load_default=None, allow_none=True)
    session_type = fields.String(load_default="Traening", validate=validate.OneOf(SESSION_TYPES))
    present = fields.List(Id(), load_default=list)
    leaders = fields.List(Id(), load_default=list)
    temporary_leaders = fields.List(Id(), load_default=list)
    disabled = fields.List(Id(), load_default=list)
    new_people = fields.List(fields.Nested(NewPersonSchema), load_default=list)
    #: When the attendance was taken on the phone (informational).
    taken_at = Text(max_len=40, load_default=None, allow_none=True)


def form_from_json(payload: dict) -> AttendanceForm:
    """An :class:`AttendanceForm` from the app's validated JSON."""
    data = AttendanceForm(
        session_date=payload["date"], start_time=payload["start"], stop_time=payload["stop"],
        facility_id=payload.get("facility_id"), session_type=payload["session_type"],
        present=_ints(payload["present"]), leaders=_ints(payload["leaders"]),
        temporary_leaders=set(payload["temporary_leaders"]), disabled=set(payload["disabled"]),
    )
    for i, p in enumerate(payload["new_people"]):
        person = NewPerson(**p)
        person.personnummer = (person.personnummer or "").strip() or None
        if not person.personnummer and not (person.first_name and person.last_name and person.birth_date):
            data.errors[f"new_people[{i}]"] = _("Give a personal identity number, or first name, last name and "
                                                "birth date (YYYY-MM-DD).")
        data.new_people.append(person)
    return data


# --- the command and its result --------------------------------------------------------------------------

def roster(group: Group) -> tuple[list[Person], list[Person]]:
    """The group's participants and leaders (people on its roster), sorted by name."""
    rows = db.session.execute(
        select(Person, GroupMember.role).join(GroupMember, (GroupMember.person_id == Person.id)
                                              & (GroupMember.tenant_id == Person.tenant_id))
        .where(GroupMember.group_id == group.id).order_by(Person.first_name, Person.last_name, Person.id)
    ).all()
    return [p for p, r in rows if r == "participant"], [p for p, r in rows if r == "leader"]


def _stop_date(data: AttendanceForm) -> tuple[dt.date | None, str | None]:
    """The stop date for a session past midnight, or an error for times that cannot be meant."""
    if data.session_date is None or data.start_time is None or data.stop_time is None:
        return None, None
    if data.stop_time > data.start_time:
        return None, None
    starts = dt.datetime.combine(data.session_date, data.start_time)
    ends = dt.datetime.combine(data.session_date + dt.timedelta(days=1), data.stop_time)
    if ends - starts <= MAX_OVERNIGHT and data.stop_time != data.start_time:
        return data.session_date + dt.timedelta(days=1), None
    return None, _("The stop time must be after the start time.")


def build_command(group: Group, data: AttendanceForm, channel: str, session_id: int | None = None) -> SessionCommand:
    """Turn what the leader entered into the intake's command; marks only people on the group's roster.

    Adds field errors to ``data.errors`` for people not on the roster and impossible times.
    """
    participants, leaders = roster(group)
    on_roster = {p.id for p in participants} | {p.id for p in leaders}
    stop_date, stop_error = _stop_date(data)
    if stop_error:
        data.errors["stop"] = stop_error
    if data.facility_id is not None and Facility.get_by_id(data.facility_id) is None:
        data.errors["facility"] = _("Choose a facility from the list.")
    if data.session_type not in SESSION_TYPES:
        data.errors["type"] = _("Choose a type from the list.")
    unknown = [i for i in data.present + data.leaders if i not in on_roster]
    if unknown:
        data.errors["roster"] = _("Someone marked is not on the group's list; reload the page and try again.")
    marks: list[AttendanceMark] = []
    leader_ids = set(data.leaders)
    for pid in data.present:
        if pid in leader_ids:
            continue
        role = "temporary_leader" if pid in data.temporary_leaders else "participant"
        marks.append(AttendanceMark(PersonRef(person_id=pid), role, disability=pid in data.disabled))
    for pid in data.leaders:
        marks.append(AttendanceMark(PersonRef(person_id=pid), "leader", disability=pid in data.disabled))
    for np in data.new_people:
        ref = PersonRef(personnummer=np.personnummer, first_name=np.first_name, last_name=np.last_name,
                        birth_date=np.birth_date, sex=np.sex)
        marks.append(AttendanceMark(ref, "temporary_leader" if np.temporary_leader else "participant",
                                    disability=np.disability))
    return SessionCommand(
        association_id=group.association_id, group_id=group.id, session_date=data.session_date,
        start_time=data.start_time, stop_time=data.stop_time, stop_date=stop_date, channel=channel,
        activity=group.main_activity, facility_id=data.facility_id, session_type=data.session_type,
        reported_by_user_id=int(current_user.id), attendance=marks, session_id=session_id, ref="form",
    )


def _date_message(code: str | None) -> str:
    """The leader's sentence for the intake's refusal of a date, by its code (never by its English text)."""
    if code == PERIOD_CLOSED:
        return _("The grant period of this date is closed; it can no longer be reported.")
    if code == PERIOD_SUBMITTED:
        return _("The association has submitted its report for the grant period of this date; its sessions "
                 "can no longer be changed.")
    if code == PERIOD_DECIDED:
        return _("The grant period of this date has been decided for the association; its sessions can no "
                 "longer be changed.")
    if code == NO_PERIOD:
        return _("The date is in no grant period of the municipality.")
    if code == DATE_IN_FUTURE:
        return _("The date is in the future; a session can be reported at most one day ahead.")
    return _("The date is out of range.")


def refusal_message(refusal: Refusal) -> tuple[str, str]:
    """The form field a refusal concerns and a plain, translated sentence for the leader."""
    fld = refusal.field or ""
    if fld.startswith("attendance["):
        sub = fld.split(".", 1)[1] if "." in fld else ""
        if sub == "personnummer":
            return "new", _("The personal identity number of the added participant is not valid.")
        if sub == "birth_date":
            return "new", _("The birth date of the added participant is not valid.")
        if sub == "sex":
            return "new", _("Choose the sex of the added participant.")
        return "new", _("Give a personal identity number, or first name, last name and birth date (YYYY-MM-DD).")
    if fld == "date":
        return "date", _date_message(refusal.code)
    if fld in ("stop_time", "stop_date"):
        return "stop", _("The stop time must be after the start time.")
    if fld == "start_time":
        return "start", _("Give the start time as HH:MM.")
    if fld == "facility_id":
        return "facility", _("Choose a facility from the list.")
    if fld == "type":
        return "type", _("Choose a type from the list.")
    return "form", _("The session could not be saved: %(reason)s", reason=refusal.reason)


# --- the verdict: accepted, or why not ------------------------------------------------------------------

def _clash_lines(notes: list[dict], names: dict[int, str]) -> list[str]:
    """Plain sentences for the intake's clash notes, naming only people of this session and nothing about
    the other session or its association."""
    lines: list[str] = []
    for note in notes:
        kind = note.get("kind")
        who = names.get(note.get("person_id") or -1, _("A person"))
        if kind == "person_overlap":
            lines.append(_("%(name)s is also registered at another activity at the same time, so the "
                           "participation may not count.", name=who))
        elif kind == "leader_overlap":
            lines.append(_("%(name)s is registered as leader of another activity at the same time.", name=who))
        elif kind == "double_report":
            lines.append(_("This session seems to be reported already (same group, same time). The municipality "
                           "will check it."))
        elif kind == "listed_twice":
            lines.append(_("%(name)s was marked twice; counted once.", name=who))
        elif kind:
            lines.append(_("The municipality will check this session."))
    return list(dict.fromkeys(lines))


#: Rule reasons about the association's period as a whole rather than about one session.
ASSOCIATION_REASONS = ("association_not_qualified",)


def _rule_verdict(session: ActivitySession):
    """The rule engine's verdict on one session, or None when no rule set applies to its date.

    The engine has no per-session preview, so the association's period is evaluated (vectorised, fast) and
    this session's verdict is picked out.
    """
    from apn.clash import reporter_preview
    from apn.errors import DomainError
    from apn.rules import evaluate

    period = db.session.execute(select(GrantPeriod).where(
        GrantPeriod.starts_on <= session.session_date, GrantPeriod.ends_on >= session.session_date)
        .order_by(GrantPeriod.starts_on)).scalars().first()
    if period is None:
        return None
    try:
        with reporter_preview():  # no signal of clashes in another municipality (docs/clashes.md)
            ev = evaluate(session.tenant_id, period.code, session.association_id)
    except DomainError:  # e.g. no rule set installed for the period
        logger.info("No rule preview for session %s", session.id)
        return None
    return next((v for v in ev.sessions(session.association_id) if v.session_id == session.id), None)


def verdict_for(session: ActivitySession, notes: list[dict] | None = None) -> dict[str, Any]:
    """What the leader sees right after saving: saved, counts or why not, and clash notes in plain words."""
    people = db.session.execute(
        select(Attendance.person_id, Attendance.role, Attendance.present, Person.first_name, Person.last_name)
        .join(Person, (Person.id == Attendance.person_id) & (Person.tenant_id == Attendance.tenant_id))
        .where(Attendance.session_id == session.id)).all()
    from apn.services.rosters import names_for

    # The names the association typed, never a name another association stored (docs/security.md).
    names = names_for(session.association_id, {r.person_id: f"{r.first_name} {r.last_name}" for r in people})
    present = [r for r in people if r.present]
    participants = sum(1 for r in present if r.role == "participant")
    leaders = sum(1 for r in present if r.role != "participant")
    if notes is None:
        from apn.clash import flags_for_sessions

        notes = flags_for_sessions(session.tenant_id, [session.id]).get(session.id, [])
    notes = [n for n in notes if n.get("status", "open") == "open"]
    facts = [
        ngettext("%(num)d participant", "%(num)d participants", participants),
        ngettext("%(num)d leader", "%(num)d leaders", leaders),
        ngettext("%(num)d minute", "%(num)d minutes", session.duration_minutes),
    ]
    rule = _rule_verdict(session)
    counts: bool | None = None
    reasons: list[str] = []
    clashes = _clash_lines(notes, names)
    if rule is not None:
        english = str(get_locale() or "sv").startswith("en")
        # Reasons about the session itself decide; the association's thresholds for the period are a note.
        own = [r for r in rule.reasons if r.code not in ASSOCIATION_REASONS]
        counts = not own
        reasons = [r.en if english else r.sv for r in own]
        clashes += [r.en if english else r.sv for r in rule.reasons if r.code in ASSOCIATION_REASONS]
        if counts and rule.participations_counted:
            facts.append(ngettext("%(num)d participation counts for the grant",
                                  "%(num)d participations count for the grant", rule.participations_counted))
    if counts is None:
        headline = _("Saved. The municipality's rules are applied when the period is computed.")
        status = "saved"
    elif counts and not clashes:
        headline = _("Saved and accepted: the session counts for the grant.")
        status = "accepted"
    else:
        headline = _("Saved, but the session does not count for the grant as it is:") if not counts else \
            _("Saved and accepted, but check this:")
        status = "not_accepted" if not counts else "accepted"
    return {"status": status, "headline": headline, "reasons": reasons, "clashes": clashes, "facts": facts,
            "session_id": session.id}


# --- who may edit ------------------------------------------------------------------------------------------

def locked_reason(session: ActivitySession) -> str | None:
    """Why the session can no longer be changed by its leader, or None."""
    period = db.session.execute(select(GrantPeriod).where(
        GrantPeriod.starts_on <= session.session_date, GrantPeriod.ends_on >= session.session_date)).scalars().first()
    if period is None:
        return None
    if period.status == "closed":
        return _("The grant period is closed.")
    submitted = db.session.execute(select(Application.id).where(
        Application.association_id == session.association_id, Application.period_id == period.id,
        Application.status.in_(LOCKED_STATUSES))).first()
    if submitted:
        return _("The association has submitted the period report.")
    return None


def own_session(session_id: int) -> tuple[ActivitySession, Group]:
    """The signed-in user's own session (404 if not theirs or not in this tenant) and its group."""
    session = ActivitySession.get_by_id(session_id)
    if session is None or session.reported_by_user_id != int(current_user.id):
        abort(404, description=_("The session was not found among your reports."))
    return session, require_group(session.group_id)


# --- pages -------------------------------------------------------------------------------------------------

@root_bp.get("/my-groups")
@login_required
def my_groups():
    """The entry point: straight to the leader's page of their municipality, or a choice between several."""
    with tenancy.system_scope(db.session()):
        tenant_ids = set(db.session.execute(select(RoleGrant.tenant_id).where(
            RoleGrant.user_id == current_user.id, RoleGrant.role.in_(("reporter", "association_admin"))))
            .scalars())
    tenants = db.session.execute(select(Tenant).where(Tenant.id.in_(tenant_ids)).order_by(Tenant.name)) \
        .scalars().all() if tenant_ids else []
    if len(tenants) == 1:
        return redirect(url_for("leader.home", tenant_slug=tenants[0].slug))
    return render_template("leader/choose.html", tenants=tenants)


@bp.get("/leader/")
@login_required
def home():
    """The leader's groups, with a button to take attendance in each."""
    tenant = current_tenant()
    ids = reporter_group_ids(current_user, tenant.id)
    groups = db.session.execute(
        select(Group, Association.name).join(Association, (Association.id == Group.association_id)
                                             & (Association.tenant_id == Group.tenant_id))
        .where(Group.id.in_(ids)).order_by(Association.name, Group.name)).all() if ids else []
    recent = db.session.execute(
        select(ActivitySession, Group.name).join(Group, (Group.id == ActivitySession.group_id)
                                                 & (Group.tenant_id == ActivitySession.tenant_id))
        .where(ActivitySession.reported_by_user_id == current_user.id, ActivitySession.group_id.in_(ids))
        .order_by(ActivitySession.starts_at.desc()).limit(10)).all() if ids else []
    return render_template("leader/home.html", groups=groups, recent=recent)


def _defaults(group: Group) -> AttendanceForm:
    """The form prefilled from the group's usual slot: today, its usual times and main facility."""
    return AttendanceForm(session_date=dt.date.today(), start_time=group.usual_start, stop_time=group.usual_stop,
                          facility_id=group.main_facility_id)


def _names(group: Group, people: list[Person]) -> dict[int, str]:
    """The names to show for the group's people: those its association typed (see ``rosters.names_for``)."""
    from apn.services.rosters import names_for

    return names_for(group.association_id, {p.id: p.display_name for p in people})


def _remember_new_people(group: Group, data: AttendanceForm) -> None:
    """Keep the names the leader typed for added people matched by a personal number that another association
    reported, so that the result page shows those and not the stored ones."""
    from apn.identity import IdentityError, parse_personnummer, pnr_hash
    from apn.services.rosters import remember_typed_names

    typed: list[tuple[int, str, str]] = []
    for np in data.new_people:
        if not np.personnummer:
            continue  # matched by the very name and birth date typed: nothing to disclose
        try:
            digest = pnr_hash(parse_personnummer(np.personnummer).number)
        except IdentityError:
            continue
        pid = db.session.execute(select(Person.id).where(Person.pnr_hash == digest)).scalar_one_or_none()
        if pid is not None:
            typed.append((pid, np.first_name or "", np.last_name or ""))
    if typed:
        remember_typed_names(group.association_id, typed, int(current_user.id))


def _render_form(group: Group, data: AttendanceForm, status: int = 200, session: ActivitySession | None = None):
    """Render the attendance page (new or edit) with values and errors."""
    participants, leaders = roster(group)
    facilities = db.session.execute(select(Facility).order_by(Facility.name)).scalars().all()
    sessions = db.session.execute(
        select(ActivitySession).where(ActivitySession.group_id == group.id,
                                      ActivitySession.reported_by_user_id == current_user.id)
        .order_by(ActivitySession.starts_at.desc()).limit(5)).scalars().all()
    html = render_template(
        "leader/attendance.html", group=group, data=data, participants=participants, leaders=leaders,
        names=_names(group, participants + leaders),
        facilities=facilities, session_types=SESSION_TYPES, editing=session, recent=sessions,
        weekday_names=[_("Mondays"), _("Tuesdays"), _("Wednesdays"), _("Thursdays"), _("Fridays"),
                       _("Saturdays"), _("Sundays")])
    return html, status


@bp.get("/leader/groups/<int:group_id>")
@login_required
def attendance(group_id: int):
    """The attendance page of one group, prefilled from its usual slot."""
    group = require_group(group_id)
    data = _defaults(group)
    data.present = []
    return _render_form(group, data)


def _save(group: Group, data: AttendanceForm, channel: str, session_id: int | None = None,
          savepoint: bool = False, refusals: list[Refusal] | None = None):
    """Validate and ingest one attendance; returns the intake's outcome, or None with ``data.errors`` set
    (and the intake's refusals added to ``refusals`` when given).

    Does not commit. A refused command leaves nothing behind: the transaction (or, with ``savepoint``, the
    savepoint around the intake) is rolled back.
    """
    cmd = build_command(group, data, channel, session_id)
    if data.errors:
        return None
    nested = db.session.begin_nested() if savepoint else None
    result: IntakeResult = ingest([cmd])
    if result.refused:
        if refusals is not None:
            refusals.extend(result.refused)
        for refusal in result.refused:
            key, text = refusal_message(refusal)
            data.errors.setdefault(key, text)
        if nested is not None:
            nested.rollback()
        else:
            db.session.rollback()
        return None
    if nested is not None:
        nested.commit()
    outcome = result.accepted[0]
    _remember_new_people(group, data)
    logger.info("Session %s %s by user %s via %s", outcome.session_id, outcome.action, current_user.id, channel)
    return outcome


@bp.post("/leader/groups/<int:group_id>")
@login_required
def save_attendance(group_id: int):
    """Save the plain form (channel ``web``) and show the result."""
    group = require_group(group_id)
    data = parse_form(request.form)
    outcome = _save(group, data, "web")
    if outcome is None:
        return _render_form(group, data, 422)
    db.session.commit()
    return redirect(url_for("leader.result", session_id=outcome.session_id))


@bp.get("/leader/sessions/<int:session_id>")
@login_required
def result(session_id: int):
    """A saved session: accepted, or why not, and what may still be done with it."""
    session, group = own_session(session_id)
    return render_template("leader/result.html", session=session, group=group, verdict=verdict_for(session),
                           locked=locked_reason(session),
                           facility=Facility.get_by_id(session.facility_id) if session.facility_id else None)


def _data_of(session: ActivitySession) -> AttendanceForm:
    """The form values of a stored session."""
    rows = db.session.execute(select(Attendance).where(Attendance.session_id == session.id)).scalars().all()
    present = [r for r in rows if r.present]
    return AttendanceForm(
        session_date=session.session_date, start_time=session.start_time, stop_time=session.stop_time,
        facility_id=session.facility_id, session_type=session.session_type,
        present=[r.person_id for r in present if r.role != "leader"],
        leaders=[r.person_id for r in present if r.role == "leader"],
        temporary_leaders={r.person_id for r in present if r.role == "temporary_leader"},
        disabled={r.person_id for r in present if r.disability})


def _changeable(session_id: int):
    """One's own session and its group, plus a redirect to its result page when it may no longer change."""
    session, group = own_session(session_id)
    reason = locked_reason(session)
    if not reason:
        return session, group, None
    flash(_("This report can no longer be changed: %(reason)s", reason=reason), "error")
    return session, group, redirect(url_for("leader.result", session_id=session.id))


@bp.get("/leader/sessions/<int:session_id>/edit")
@login_required
def edit(session_id: int):
    """Edit one's own report (until the period report is submitted)."""
    session, group, locked = _changeable(session_id)
    if locked is not None:
        return locked
    return _render_form(group, _data_of(session), session=session)


@bp.post("/leader/sessions/<int:session_id>/edit")
@login_required
def save_edit(session_id: int):
    """Replace one's own report with the edited form (through the intake, channel ``web``, which refuses it
    in a locked grant period)."""
    session, group = own_session(session_id)
    data = parse_form(request.form)
    outcome = _save(group, data, "web", session_id=session.id)
    if outcome is None:
        return _render_form(group, data, 422, session=session)
    db.session.commit()
    flash(_("The changes are saved."), "success")
    return redirect(url_for("leader.result", session_id=session.id))


@bp.post("/leader/sessions/<int:session_id>/delete")
@login_required
def delete(session_id: int):
    """Delete one's own report (the intake refuses it in a locked grant period)."""
    session, group = own_session(session_id)
    cmd = SessionCommand(association_id=session.association_id, group_id=session.group_id,
                         session_date=session.session_date, start_time=None, stop_time=None, channel=session.channel,
                         method="remove", session_id=session.id, reported_by_user_id=int(current_user.id))
    res = ingest([cmd])
    if res.refused:
        db.session.rollback()
        flash(refusal_message(res.refused[0])[1], "error")
        return redirect(url_for("leader.result", session_id=session.id))
    db.session.commit()
    flash(_("The session of %(date)s is deleted.", date=session.session_date.isoformat()), "success")
    return redirect(url_for("leader.attendance", group_id=group.id))


# --- the app (PWA) -------------------------------------------------------------------------------------------

def _shell_version() -> str:
    """A short hash of the app shell files: a new version makes the service worker refresh its cache."""
    h = hashlib.sha256()
    for name in ("sw.js", *SHELL_FILES):
        p = STATIC_APP / name
        if p.exists():
            h.update(p.read_bytes())
    css = STATIC_APP.parent / "app.css"
    h.update(css.read_bytes())
    return h.hexdigest()[:12]


@bp.get("/app/sw.js")
def service_worker():
    """The service worker, served under the tenant so its scope covers the tenant's pages."""
    text = (STATIC_APP / "sw.js").read_text(encoding="utf-8")
    shell = [url_for("static", filename="app.css")] + [url_for("static", filename=f"app/{n}") for n in SHELL_FILES]
    text = text.replace("__VERSION__", _shell_version()).replace("__SHELL__", json.dumps(shell))
    resp = Response(text, mimetype="text/javascript")
    resp.headers["Service-Worker-Allowed"] = url_for("leader.home").rsplit("/leader/", 1)[0] + "/"
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.get("/app/manifest.webmanifest")
def manifest():
    """The web app manifest, with this municipality's start address and scope."""
    doc = json.loads((STATIC_APP / "manifest.webmanifest").read_text(encoding="utf-8"))
    tenant = current_tenant()
    doc["name"] = _("Attendance · %(name)s", name=tenant.name)
    doc["short_name"] = _("Attendance")
    doc["description"] = _("Take attendance for your groups, also without coverage.")
    doc["start_url"] = url_for("leader.home")
    doc["scope"] = url_for("leader.home").rsplit("/leader/", 1)[0] + "/"
    doc["id"] = doc["start_url"]
    doc["lang"] = str(getattr(request, "babel_locale", None) or current_app.config["DEFAULT_LOCALE"])
    for icon in doc.get("icons", []):
        icon["src"] = url_for("static", filename=f"app/{icon['src']}")
    return Response(json.dumps(doc, ensure_ascii=False), mimetype="application/manifest+json")


def _json_error(status: int, message: str, errors: dict | None = None, error_code: str | None = None):
    """An error in the one error format (see :mod:`apn.errors`), as JSON."""
    from http import HTTPStatus

    body: dict[str, Any] = {"code": status, "status": HTTPStatus(status).phrase, "message": message}
    if errors:
        body["errors"] = errors
    if error_code:
        body["error_code"] = error_code
    resp = jsonify(body)
    resp.status_code = status
    return resp


@bp.get("/app/csrf")
def csrf_token():
    """A fresh CSRF token for the app's next sync (the page it was loaded from may be old)."""
    if not current_user.is_authenticated:
        return _json_error(401, _("Sign in again to send what is waiting."))
    resp = jsonify({"csrf_token": generate_csrf()})
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/app/sessions")
def app_sessions():
    """Receive one attendance from the app (channel ``app``), exactly once per ``Idempotency-Key``.

    The key is written first, in the same transaction as the session, so a repeat (or a concurrent
    duplicate, which waits on the key's primary key) gets the first response replayed and never a second
    session.
    """
    if not current_user.is_authenticated:
        return _json_error(401, _("Sign in again to send what is waiting."))
    key = (request.headers.get("Idempotency-Key") or "").strip()
    if not 8 <= len(key) <= 200:
        return _json_error(400, "the Idempotency-Key header is missing or not 8-200 characters",
                           {"headers": {"Idempotency-Key": ["required, 8-200 characters"]}})
    actor = f"user:{int(current_user.id)}"
    digest = hashlib.sha256(request.get_data()).hexdigest()
    seen = _replay(actor, key, digest)
    if seen is not None:
        return seen
    try:  # any body, in any encoding json.loads detects (the input guard bounded its depth already)
        body = json.loads(request.get_data(cache=True) or b"{}")
    except (ValueError, RecursionError):
        return _json_error(400, "the body is not valid JSON (UTF-8, UTF-16 or UTF-32)",
                           {"json": {"_body": ["Invalid JSON body."]}})
    try:
        payload = AppSessionSchema().load(body or {})
    except ValidationError as exc:
        return _json_error(422, "the attendance is not valid", {"json": exc.messages})
    group = require_group(payload["group_id"])
    row = IdempotencyKey(tenant_id=tenancy.require_tenant_id(), actor=actor, key=key, method=request.method,
                         path=request.path[:300], request_hash=digest, response_status=0, response_body="")
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return _replay(actor, key, digest) or _json_error(409, "the same request is being handled; try again")
    data = form_from_json(payload)
    refusals: list[Refusal] = []
    outcome = _save(group, data, "app", savepoint=True, refusals=refusals)
    if outcome is None:
        resp = _json_error(422, next(iter(data.errors.values())), {"json": dict(data.errors)},
                           next((r.code for r in refusals if r.code), None))
    else:
        session = ActivitySession.get_by_id(outcome.session_id)
        resp = jsonify({"session_id": outcome.session_id, "action": outcome.action,
                        "verdict": verdict_for(session, outcome.notes),
                        "url": url_for("leader.result", session_id=outcome.session_id)})
        resp.status_code = 201
    row.response_status = resp.status_code
    row.response_body = resp.get_data(as_text=True)
    db.session.commit()
    return resp


def _replay(actor: str, key: str, digest: str):
    """The stored response for a repeated key, a 422 when the key was used for another body, or None."""
    row = db.session.get(IdempotencyKey, (tenancy.require_tenant_id(), actor, key))
    if row is None:
        return None
    if row.request_hash != digest:
        return _json_error(422, "this Idempotency-Key was used for another request",
                           {"headers": {"Idempotency-Key": ["already used for another request"]}})
    resp = Response(row.response_body, status=row.response_status, mimetype="application/json")
    resp.headers["Idempotent-Replayed"] = "true"
    return resp


def register(app) -> None:
    """Register the leader's blueprints."""
    app.register_blueprint(bp)
    app.register_blueprint(root_bp)

