"""The association administrator's pages: groups and rosters, leaders and delegation, partner systems, DAK
upload, sessions, the expected grant, the period report and the decision.

Every page lives under ``/k/<tenant_slug>/associations/<association_id>/`` and needs the role
``association_admin`` for that association (:func:`apn.web.access.require_association_admin`): another
association's or another municipality's id answers 404, a user without the role 403.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import case, func, select

from apn.clash.service import HIDDEN_FROM_REPORTERS
from apn.errors import DomainError
from apn.extensions import db
from apn.inputs import query_int
from apn.models import (
    ActivitySession,
    Application,
    Association,
    Attendance,
    ClashFlag,
    Decision,
    DecisionLine,
    GrantPeriod,
    Group,
    PartnerAuthorisation,
    PartnerClient,
)
from apn.models.base import utcnow
from apn.services import accounts, rosters
from apn.services.locking import lock_parent
from apn.web.access import current_tenant, forget_roles, install_tenant_routing, require_association_admin
from apn.web.forms import (
    WEEKDAYS,
    ActionForm,
    DakUploadForm,
    GroupForm,
    InviteForm,
    PersonForm,
    RosterImportForm,
    SubmitApplicationForm,
    apply_domain_error,
    choices,
)

bp = Blueprint("association", __name__, url_prefix="/k/<tenant_slug>/associations/<int:association_id>")
install_tenant_routing(bp)

SESSIONS_PER_PAGE = 100


@bp.url_value_preprocessor
def _pull_association(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Take ``association_id`` out of the view arguments (every page has it; the views use ``g``)."""
    g.association_id = int((values or {}).pop("association_id", 0))


@bp.before_request
def _load_association() -> None:
    """Every page: the association, if the signed-in user administers it."""
    g.association = require_association_admin(g.association_id)


@bp.url_defaults
def _association_default(endpoint: str, values: dict[str, Any]) -> None:
    """``url_for`` fills in the association of the request."""
    assoc = g.get("association")
    if assoc is not None and "association_id" not in values and endpoint.startswith("association."):
        values["association_id"] = assoc.id


def _page(template: str, status: int = 200, **context: Any):
    """Render a page of this area with the association in the context."""
    return render_template(f"association/{template}", association=g.association,
                           has_grant_page="association.grant" in current_app.view_functions, **context), status


def _commit_and_go(message: str, endpoint: str, **values: Any):
    """Commit the request's work, say what happened, and redirect (post/redirect/get)."""
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(endpoint, **values))


# --- periods -----------------------------------------------------------------------------------------------

def _periods() -> list[GrantPeriod]:
    return list(db.session.execute(select(GrantPeriod).order_by(GrantPeriod.starts_on.desc())).scalars())


def running_period(today: dt.date | None = None) -> GrantPeriod | None:
    """The period today falls in, else the latest one that has started."""
    today = today or dt.date.today()
    periods = _periods()
    for p in periods:
        if p.starts_on <= today <= p.ends_on:
            return p
    started = [p for p in periods if p.starts_on <= today]
    return started[0] if started else (periods[-1] if periods else None)


def _chosen_period() -> GrantPeriod | None:
    code = request.args.get("period")
    if code:
        period = db.session.execute(select(GrantPeriod).where(GrantPeriod.code == code)).scalar_one_or_none()
        if period is None:
            abort(404, description=_("The period was not found."))
        return period
    return running_period()


# --- overview ------------------------------------------------------------------------------------------------

@bp.get("")
def home():
    """The association's overview and the administrator's menu."""
    period = running_period()
    application = None
    if period is not None:
        application = db.session.execute(select(Application).where(
            Application.association_id == g.association.id, Application.period_id == period.id)).scalar_one_or_none()
    groups = rosters.groups_of(g.association.id)
    statuses = dict(db.session.execute(select(Application.period_id, Application.status).where(
        Application.association_id == g.association.id)).all())
    return _page("home.html", period=period, application=application, groups=groups, periods=_periods(),
                 statuses=statuses)


# --- groups and rosters -------------------------------------------------------------------------------------

def _group_form(group: Group | None = None) -> GroupForm:
    form = GroupForm(obj=group) if group is not None and request.method == "GET" else GroupForm()
    form.main_facility_id.choices = choices([(None, _("(none)"))] + [(f.id, f.name) for f in rosters.facilities()])
    return form


@bp.get("/groups")
def groups():
    """The association's groups."""
    return _page("groups.html", groups=rosters.groups_of(g.association.id), weekdays=dict(WEEKDAYS))


@bp.route("/groups/new", methods=["GET", "POST"])
def group_new():
    """Create a group."""
    form = _group_form()
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                group = rosters.save_group(g.association.id, form.data)
            except DomainError as exc:
                apply_domain_error(form, exc)
                return _page("group_form.html", 409 if exc.status == 409 else 422, form=form, group=None)
            return _commit_and_go(_("The group %(name)s is created.", name=group.name), "association.group",
                                  group_id=group.id)
        return _page("group_form.html", 422, form=form, group=None)
    return _page("group_form.html", form=form, group=None)


@bp.route("/groups/<int:group_id>/edit", methods=["GET", "POST"])
def group_edit(group_id: int):
    """Edit a group."""
    group = _group(group_id)
    form = _group_form(group)
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                rosters.save_group(g.association.id, form.data, group)
            except DomainError as exc:
                apply_domain_error(form, exc)
                return _page("group_form.html", 409 if exc.status == 409 else 422, form=form, group=group)
            return _commit_and_go(_("The group is saved."), "association.group", group_id=group.id)
        return _page("group_form.html", 422, form=form, group=group)
    return _page("group_form.html", form=form, group=group)


def _group(group_id: int) -> Group:
    try:
        return rosters.group_of(g.association.id, group_id)
    except DomainError:
        abort(404, description=_("The group was not found."))


def _roster_page(group: Group, person_form: PersonForm | None = None, import_form: RosterImportForm | None = None,
                 report: rosters.RosterReport | None = None, status: int = 200):
    """The group's roster with its forms; the view is written to the audit log (``person.view``)."""
    members = rosters.roster(group)
    rosters.record_view(current_user.id, group, [p.id for p, _role in members])
    db.session.commit()
    names = rosters.names_for(group.association_id, {p.id: p.display_name for p, _role in members})
    return _page("group.html", status, group=group, members=members, names=names,
                 person_form=person_form or PersonForm(),
                 import_form=import_form or RosterImportForm(), report=report, remove_form=ActionForm())


@bp.get("/groups/<int:group_id>")
def group(group_id: int):
    """A group: its roster (personal numbers masked), add a person, import a roster file."""
    return _roster_page(_group(group_id))


@bp.post("/groups/<int:group_id>/people")
def person_add(group_id: int):
    """Add one person to the roster."""
    grp = _group(group_id)
    form = PersonForm()
    if not form.validate_on_submit():
        return _roster_page(grp, person_form=form, status=422)
    try:
        _pid, added = rosters.add_person(grp, {
            "role": form.role.data, "personnummer": form.personnummer.data, "first_name": form.first_name.data,
            "last_name": form.last_name.data, "birth_date": form.birth_date.data, "sex": form.sex.data})
    except DomainError as exc:
        db.session.rollback()
        apply_domain_error(form, exc)
        return _roster_page(grp, person_form=form, status=422)
    name = f"{form.first_name.data.strip()} {form.last_name.data.strip()}"
    message = (_("%(name)s is added to the roster.", name=name) if added
               else _("%(name)s is on the roster already.", name=name))
    return _commit_and_go(message, "association.group", group_id=grp.id)


@bp.post("/groups/<int:group_id>/import")
def roster_import(group_id: int):
    """Import a roster from CSV or xlsx; show what was added and every refused line."""
    grp = _group(group_id)
    form = RosterImportForm()
    if not form.validate_on_submit():
        return _roster_page(grp, import_form=form, status=422)
    upload = form.file.data
    try:
        report = rosters.import_roster(grp, upload.read(), upload.filename or "", form.default_role.data)
    except DomainError as exc:
        db.session.rollback()
        apply_domain_error(form, exc)
        return _roster_page(grp, import_form=form, status=exc.status if 400 <= exc.status < 500 else 422)
    db.session.commit()
    status = 200 if not report.refused else 422 if not report.added and not report.already_on_roster else 200
    return _roster_page(grp, report=report, status=status)


@bp.post("/groups/<int:group_id>/people/<int:person_id>/remove")
def person_remove(group_id: int, person_id: int):
    """Take a person off the roster."""
    grp = _group(group_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        rosters.remove_member(grp, person_id)
    except DomainError:
        abort(404, description=_("The person is not on the roster."))
    return _commit_and_go(_("The person is taken off the roster."), "association.group", group_id=grp.id)


# --- leaders and delegation ------------------------------------------------------------------------------

def _invite_form() -> InviteForm:
    form = InviteForm()
    form.groups.choices = choices([(grp.id, grp.name) for grp in rosters.groups_of(g.association.id) if grp.active])
    return form


@bp.route("/leaders", methods=["GET", "POST"])
def leaders():
    """Leaders and their reporting rights; invite a leader to report for some groups.

    The answer to an invitation is the same for every address: whether it has an account is not shown,
    and nothing is granted until the holder of the address accepts the link in the mail.
    """
    form = _invite_form()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                inv = accounts.invite_leader(g.association, form.email.data, form.name.data, form.groups.data,
                                             invited_by=current_user)
            except DomainError as exc:
                db.session.rollback()
                apply_domain_error(form, exc)
                status = 422
            else:
                _send_invitation(inv)
                message = _("An invitation has been sent to %(email)s. The rights apply once it is accepted.",
                            email=inv.invitation.email)
                return _commit_and_go(message, "association.leaders")
        else:
            status = 422
    grants = accounts.reporter_grants(g.association.id)
    return _page("leaders.html", status, form=form, grants=grants, withdraw_form=ActionForm(),
                 invitations=_pending_invitations())


def _pending_invitations() -> list[tuple[object, list[str]]]:
    """Pending invitations with the names of the groups they offer (what the inviter typed, nothing more)."""
    names = {grp.id: grp.name for grp in rosters.groups_of(g.association.id)}
    return [(inv, [names[gid] for gid in inv.group_ids or [] if gid in names])
            for inv in accounts.pending_invitations(g.association.id)]


def _send_invitation(inv: accounts.Invitation) -> None:
    """Mail the invitation link: the same mail whether or not the address has an account."""
    link = url_for("auth.accept_invitation", token=inv.token, _external=True)
    body = render_template("auth/mail_invitation.txt", name=inv.invitation.name, inviter=current_user.name,
                           association=g.association.name, groups=[grp.name for grp in inv.groups], link=link)
    accounts.send_mail(inv.invitation.email,
                       _("Invitation to report for %(association)s", association=g.association.name), body)


@bp.post("/leaders/invitations/<int:invitation_id>/withdraw")
def withdraw_invitation(invitation_id: int):
    """Withdraw a pending invitation; its link stops working."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        accounts.withdraw_invitation(g.association.id, invitation_id)
    except DomainError:
        abort(404, description=_("The invitation was not found."))
    return _commit_and_go(_("The invitation is withdrawn."), "association.leaders")


@bp.post("/leaders/grants/<int:grant_id>/withdraw")
def withdraw_grant(grant_id: int):
    """Withdraw one reporting right."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        accounts.withdraw_reporter(g.association.id, grant_id)
    except DomainError:
        abort(404, description=_("The reporting right was not found."))
    forget_roles()
    return _commit_and_go(_("The reporting right is withdrawn."), "association.leaders")


# --- partner systems -------------------------------------------------------------------------------------------

@bp.get("/partners")
def partners():
    """The municipality's partner systems and whether the association has authorised each."""
    clients = list(db.session.execute(select(PartnerClient).where(PartnerClient.active.is_(True),
                                                                  PartnerClient.revoked_at.is_(None))
                                      .order_by(PartnerClient.name)).scalars())
    auths = {a.partner_client_id: a for a in db.session.execute(select(PartnerAuthorisation).where(
        PartnerAuthorisation.association_id == g.association.id)).scalars()}
    rows = [(c, auths.get(c.id) if auths.get(c.id) and auths[c.id].withdrawn_at is None else None)
            for c in clients]
    return _page("partners.html", rows=rows, action_form=ActionForm())


@bp.post("/partners/<client_id>/<action>")
def partner_action(client_id: str, action: str):
    """Authorise a partner system to report for the association, or withdraw that."""
    from apn.services import partners as partner_service

    if action not in ("authorise", "withdraw"):
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        if action == "authorise":
            partner_service.authorise(client_id, g.association.organisationsnummer, current_user.id)
            message = _("The partner system may now report for the association.")
        else:
            partner_service.withdraw(client_id, g.association.organisationsnummer)
            message = _("The partner system may no longer report for the association.")
    except DomainError as exc:
        db.session.rollback()
        abort(exc.status, description=_(exc.message))
    return _commit_and_go(message, "association.partners")


# --- DAK upload ----------------------------------------------------------------------------------------------------

@bp.route("/dak", methods=["GET", "POST"])
def dak_upload():
    """Upload a DAK file for the association and see its counts: in the file, accepted, refused."""
    from apn.formats.dak import import_dak

    form = DakUploadForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            return _page("dak.html", 422, form=form, report=None)
        try:
            report = import_dak(form.file.data.read(), tenant_id=current_tenant().id, partner_client_id=None,
                                allowed_association_ids={g.association.id}, reported_by_user_id=current_user.id)
        except DomainError as exc:
            db.session.rollback()
            apply_domain_error(form, exc)
            form.file.errors = [*form.file.errors] or [_(exc.message)]
            return _page("dak.html", exc.status if 400 <= exc.status < 500 else 422, form=form, report=None)
        db.session.commit()
        data = report.as_dict()
        return _page("dak.html", 200, form=DakUploadForm(formdata=None), report=data)
    return _page("dak.html", form=form, report=None)


# --- sessions -----------------------------------------------------------------------------------------------------

@bp.get("/sessions")
def sessions():
    """All sessions of the association in a period, with channel, attendance counts and clash status."""
    period = _chosen_period()
    page = query_int("page", 1, hi=10**6)
    rows: list[Any] = []
    total = 0
    if period is not None:
        base = (ActivitySession.association_id == g.association.id,
                ActivitySession.session_date >= period.starts_on, ActivitySession.session_date <= period.ends_on)
        total = db.session.scalar(select(func.count()).select_from(ActivitySession).where(*base)) or 0
        att = (select(Attendance.session_id,
                      func.sum(case((Attendance.role == "participant", 1), else_=0)).label("participants"),
                      func.sum(case((Attendance.role != "participant", 1), else_=0)).label("leaders"))
               .where(Attendance.present.is_(True)).group_by(Attendance.session_id).subquery())
        clashes = (select(ClashFlag.session_id, func.count().label("open_clashes"))
                   .where(ClashFlag.status == "open", ClashFlag.kind.not_in(HIDDEN_FROM_REPORTERS))
                   .group_by(ClashFlag.session_id).subquery())
        rows = db.session.execute(
            select(ActivitySession, Group.name, att.c.participants, att.c.leaders, clashes.c.open_clashes)
            .join(Group, (Group.tenant_id == ActivitySession.tenant_id) & (Group.id == ActivitySession.group_id))
            .outerjoin(att, att.c.session_id == ActivitySession.id)
            .outerjoin(clashes, clashes.c.session_id == ActivitySession.id)
            .where(*base, ActivitySession.tenant_id == current_tenant().id)
            .order_by(ActivitySession.session_date.desc(), ActivitySession.start_time.desc(), ActivitySession.id)
            .limit(SESSIONS_PER_PAGE).offset((page - 1) * SESSIONS_PER_PAGE)
        ).all()
    pages = max(1, (total + SESSIONS_PER_PAGE - 1) // SESSIONS_PER_PAGE)
    return _page("sessions.html", period=period, periods=_periods(), rows=rows, total=total, page=page,
                 pages=pages)


# --- period report and decision -----------------------------------------------------------------------------

def _application(period: GrantPeriod) -> Application | None:
    return db.session.execute(select(Application).where(
        Application.association_id == g.association.id, Application.period_id == period.id)).scalar_one_or_none()


def submit_period_report(period: GrantPeriod, expected_ore: int | None, late_allowed: bool,
                         today: dt.date | None = None) -> Application:
    """Submit the association's report for ``period`` (status ``submitted``, with the expected amount).

    Refused (409) when it is submitted already, when the period has not ended, or after the deadline unless
    the rules allow late applications.
    """
    today = today or dt.date.today()
    # Two submits at once (a double click, two tabs) queue on the association's row; the second reads what
    # the first stored and is told the report is submitted already (never a broken unique key, a 500).
    lock_parent(Association.id, g.association.id)
    app_row = db.session.execute(select(Application).where(
        Application.association_id == g.association.id, Application.period_id == period.id)
        .execution_options(populate_existing=True)).scalar_one_or_none()
    if app_row is not None and app_row.status != "draft":
        raise DomainError(_("The report for %(period)s has been submitted already.", period=period.code),
                          field="period", status=409)
    if today <= period.ends_on:
        raise DomainError(_("The period %(period)s ends on %(end)s; the report can be submitted from the day "
                            "after.", period=period.code, end=period.ends_on.isoformat()), field="period",
                          status=409)
    if today > period.deadline and not late_allowed:
        raise DomainError(_("The deadline for %(period)s was %(deadline)s. The municipality's rules do not accept "
                            "late reports; contact the municipality.", period=period.code,
                            deadline=period.deadline.isoformat()), field="period", status=409)
    if app_row is None:
        app_row = Application(tenant_id=current_tenant().id, association_id=g.association.id, period_id=period.id)
        db.session.add(app_row)
    app_row.status = "submitted"
    app_row.submitted_at = utcnow()
    app_row.submitted_by_user_id = current_user.id
    app_row.expected_ore = expected_ore
    db.session.flush()
    return app_row


@bp.route("/periods/<int:period_id>", methods=["GET", "POST"])
def period(period_id: int):
    """One period: the report's status, the submit form before the deadline, and the decision when it comes."""
    gp = GrantPeriod.get_by_id(period_id)
    if gp is None:
        abort(404, description=_("The period was not found."))
    app_row = _application(gp)
    decision, lines = None, []
    if app_row is not None:
        decision = db.session.execute(select(Decision).where(Decision.application_id == app_row.id)
                                      .order_by(Decision.decided_at.desc())).scalars().first()
        if decision is not None:
            lines = list(db.session.execute(select(DecisionLine).where(DecisionLine.decision_id == decision.id)
                                            .order_by(DecisionLine.line_no)).scalars())
    form = SubmitApplicationForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                today = dt.date.today()
                app_row = submit_period_report(gp, None, expected_for(gp).late_allowed(gp, today), today)
                # Evaluated again after submission, so a late report's reduction is part of the amount.
                app_row.expected_ore = expected_for(gp).total_ore
                db.session.flush()
            except DomainError as exc:
                db.session.rollback()
                apply_domain_error(form, exc)
                status = exc.status
            else:
                return _commit_and_go(_("The report for %(period)s is submitted.", period=gp.code),
                                      "association.period", period_id=gp.id)
        else:
            status = 422
    return _page("period.html", status, period=gp, application=app_row, decision=decision, lines=lines, form=form,
                 today=dt.date.today())


# --- expected grant ------------------------------------------------------------------------------------------

class Estimate:
    """The rule engine's expected grant for one association and period, as the pages need it."""

    def __init__(self, evaluation: Any, association_id: int) -> None:
        """Keep the engine's evaluation and the association's result."""
        self.evaluation = evaluation
        self.result = evaluation.associations[association_id]
        self.total_ore: int = self.result.total_ore
        self.association_id = association_id

    def late_allowed(self, period: GrantPeriod, today: dt.date) -> bool:
        """Whether the rules accept a report on ``today`` (late reports: reduced until the cut-off)."""
        late = self.evaluation.document.late
        if not (late.reductions or late.cutoff_days is not None):
            return False
        return late.cutoff_days is None or (today - period.deadline).days < late.cutoff_days


def expected_for(period: GrantPeriod) -> Estimate:
    """The association's expected grant for ``period`` from the rule engine (:func:`apn.rules.evaluate`)."""
    from apn.clash import reporter_preview
    from apn.rules import evaluate

    with reporter_preview():  # no signal of clashes in another municipality (docs/clashes.md)
        return Estimate(evaluate(current_tenant().id, period.code, g.association.id), g.association.id)


def _text(item: dict | Any, sv: str = "sv", en: str = "en") -> str:
    """The Swedish or English text of an engine message, by the page's language."""
    from flask_babel import get_locale

    lang = str(get_locale() or "sv")
    data = item if isinstance(item, dict) else item.as_dict()
    return data.get(en if lang == "en" else sv) or data.get(sv) or ""


@bp.get("/grant")
def grant():
    """The expected grant for the running (or chosen) period, with its explanation: the amount line by line,
    the sessions that count and those that do not, and why."""
    period = _chosen_period()
    if period is None:
        abort(404, description=_("The period was not found."))
    try:
        est = expected_for(period)
    except DomainError as exc:
        db.session.rollback()
        return _page("grant.html", 409, period=period, periods=_periods(), problem=_(exc.message), est=None)
    res = est.result
    lines = [{"clause": ln.clause, "text": _text(ln.as_dict(), "description_sv", "description_en"),
              "units": ln.units, "amount_ore": ln.amount_ore, "kind": ln.kind} for ln in res.lines]
    verdicts = est.evaluation.sessions(g.association.id)
    names = dict(db.session.execute(select(ActivitySession.id, Group.name).join(
        Group, (Group.tenant_id == ActivitySession.tenant_id) & (Group.id == ActivitySession.group_id)).where(
        ActivitySession.id.in_([v.session_id for v in verdicts] or [-1]))).all())
    sessions_view = [{"v": v, "group": names.get(v.session_id, ""), "reasons": [_text(r) for r in v.reasons]}
                     for v in verdicts]
    return _page("grant.html", period=period, periods=_periods(), est=est, lines=lines, sessions=sessions_view,
                 notes=[_text(n) for n in res.notes],
                 not_counted=[{"text": _text(n), "count": n["count"]}
                              for n in est.evaluation.not_counted_summary(g.association.id)],
                 problem=None)
