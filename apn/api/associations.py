"""Associations that authorised the partner, their groups (attendance cards), people and expected grant."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from apn.api import docs
from apn.api.idempotency import idempotent
from apn.api.operations import Gateway
from apn.api.schemas import (
    AssociationSchema,
    ExpectedGrantArgs,
    GroupInSchema,
    GroupSchema,
    PersonInSchema,
    PersonSchema,
    clean_text,
)
from apn.api.security import current_partner_id, protect
from apn.errors import Conflict, DomainError, Forbidden, NotFound
from apn.extensions import db
from apn.identity import IdentityError, normalise_key, normalise_orgnr
from apn.intake.commands import PersonRef
from apn.intake.people import PersonProblem, check_ref, resolve
from apn.models import ActivitySession, Association, Facility, GrantPeriod, Group, PartnerPerson, Person
from apn.services import partners as partner_svc
from apn.services import rosters
from apn.tenancy import require_tenant_id

PREFIX = "/associations"
blp = Blueprint("partner-associations", __name__,
                description="The associations that authorised the partner, their attendance cards (groups), "
                            "people and expected grant")
protect(blp)


def path_key(value: str, name: str, max_len: int = 50, min_len: int = 1) -> str:
    """Validate a key taken from the URL (length, no control characters), in its comparable form
    (:func:`apn.identity.normalise_key`: ``１７`` and ``17`` are the same card)."""
    from marshmallow import ValidationError

    try:
        clean_text(value)
    except ValidationError as exc:
        raise DomainError(exc.messages[0], field=name, location="path") from None
    value = normalise_key(value)
    if not min_len <= len(value) <= max_len:
        raise DomainError(f"must be {min_len}–{max_len} characters", field=name, location="path")
    return value


def authorised_association(orgnr: str) -> Association:
    """The association with this organisation number if it authorised the partner (404/403 otherwise)."""
    try:
        digits = normalise_orgnr(orgnr)
    except IdentityError as exc:
        raise DomainError(f"organisation number {exc}", field="orgnr", location="path") from None
    assoc = db.session.execute(select(Association).where(Association.organisationsnummer == digits)
                               ).scalar_one_or_none()
    if assoc is None:
        raise NotFound("no association with this organisation number in this municipality", field="orgnr",
                       location="path")
    if assoc.id not in partner_svc.authorised_association_ids(current_partner_id()):
        raise Forbidden("the association has not authorised this partner", field="orgnr", location="path")
    return assoc


def _group_view(group: Group, assoc: Association) -> dict:
    facility = db.session.get(Facility, (group.tenant_id, group.main_facility_id)) if group.main_facility_id \
        else None
    return {"card_number": group.partner_card_number, "organisationsnummer": assoc.organisationsnummer,
            "name": group.name, "main_activity": group.main_activity,
            "facility": facility.name if facility else None, "usual_weekday": group.usual_weekday,
            "usual_start": group.usual_start, "usual_stop": group.usual_stop}


@blp.route("")
class Associations(MethodView):
    @blp.doc(security=docs.BEARER, responses=docs.errors(401, 429))
    @blp.response(200, AssociationSchema(many=True))
    def get(self):
        """List the associations that authorised the partner."""
        return [{"organisationsnummer": a.organisationsnummer, "name": a.name}
                for a in partner_svc.authorised_associations(current_partner_id())]


@blp.route("/<orgnr>/groups")
class Groups(MethodView):
    @blp.doc(security=docs.BEARER, parameters=[docs.ORGNR], responses=docs.errors(401, 403, 404, 422, 429))
    @blp.response(200, GroupSchema(many=True))
    def get(self, orgnr: str):
        """List the partner's attendance cards (groups) of the association."""
        assoc = authorised_association(orgnr)
        groups = db.session.execute(select(Group).where(
            Group.association_id == assoc.id, Group.partner_client_id == current_partner_id())
            .order_by(Group.partner_card_number)).scalars().all()
        return [_group_view(g, assoc) for g in groups]


@blp.route("/<orgnr>/groups/<card_number>")
class GroupByCard(MethodView):
    @blp.doc(security=docs.BEARER, parameters=[docs.ORGNR, docs.CARD],
             responses=docs.errors(401, 403, 404, 422, 429))
    @blp.response(200, GroupSchema)
    def get(self, orgnr: str, card_number: str):
        """Read one attendance card (group) by the partner's card number."""
        assoc = authorised_association(orgnr)
        card_number = path_key(card_number, "card_number")
        group = db.session.execute(select(Group).where(
            Group.association_id == assoc.id, Group.partner_client_id == current_partner_id(),
            Group.partner_card_number == card_number)).scalar_one_or_none()
        if group is None:
            raise NotFound("no attendance card with this card number", field="card_number", location="path")
        return _group_view(group, assoc)

    @idempotent
    @blp.doc(security=docs.BEARER, parameters=[docs.ORGNR, docs.CARD, docs.IDEMPOTENCY],
             responses=docs.errors(400, 401, 403, 404, 409, 415, 422, 429))
    @blp.arguments(GroupInSchema, example={"name": "P13 fotboll", "main_activity": "Fotboll",
                                           "facility": "Sporthallen", "usual_weekday": 1,
                                           "usual_start": "18:00", "usual_stop": "19:30"})
    @blp.response(200, GroupSchema, description="Updated")
    @blp.alt_response(201, schema=GroupSchema, description="Created", success=True)
    def put(self, data: dict, orgnr: str, card_number: str):
        """Create or update an attendance card (group) keyed by the partner's card number."""
        assoc = authorised_association(orgnr)
        card_number = path_key(card_number, "card_number")
        tenant_id = require_tenant_id()
        partner_id = current_partner_id()
        group = db.session.execute(select(Group).where(
            Group.partner_client_id == partner_id, Group.partner_card_number == card_number)).scalar_one_or_none()
        if group is not None and group.association_id != assoc.id:
            raise Conflict("this card number belongs to another association", field="card_number",
                           location="path")
        facility_id = None
        if data.get("facility"):
            gw = Gateway(tenant_id, partner_id)
            facility_id = gw.facility_ids({data["facility"]})[data["facility"].casefold()]
        created = group is None
        if created:
            group = Group(tenant_id=tenant_id, association_id=assoc.id, partner_client_id=partner_id,
                          partner_card_number=card_number, name=data["name"])
            db.session.add(group)
        group.name = data["name"]
        group.main_activity = data.get("main_activity") or None
        group.main_facility_id = facility_id
        group.usual_weekday = data.get("usual_weekday")
        group.usual_start = data.get("usual_start")
        group.usual_stop = data.get("usual_stop")
        db.session.flush()
        return _group_view(group, assoc), 201 if created else 200


@blp.route("/<orgnr>/people/<person_id>")
class People(MethodView):
    @idempotent
    @blp.doc(security=docs.BEARER, parameters=[docs.ORGNR, docs.PERSON, docs.IDEMPOTENCY],
             responses=docs.errors(400, 401, 403, 404, 415, 422, 429))
    @blp.arguments(PersonInSchema, example={"personnummer": "201205172305", "first_name": "Alva",
                                            "last_name": "Berg"})
    @blp.response(200, PersonSchema, description="Updated")
    @blp.alt_response(201, schema=PersonSchema, description="Created", success=True)
    def put(self, data: dict, orgnr: str, person_id: str):
        """Create or update a person keyed by the partner's person id (upserted by personnummer or name + birth date)."""
        assoc = authorised_association(orgnr)
        person_id = path_key(person_id, "person_id")
        tenant_id = require_tenant_id()
        partner_id = current_partner_id()
        ref = PersonRef(personnummer=data.get("personnummer") or None, first_name=data["first_name"],
                        last_name=data["last_name"], birth_date=data.get("birth_date"), sex=data.get("sex"),
                        external_id=person_id)
        problem = check_ref(ref)
        if problem is not None:
            raise DomainError(problem.message, field=problem.field)
        before = db.session.get(PartnerPerson, (tenant_id, partner_id, person_id))
        pid = resolve(tenant_id, [ref], partner_id)[id(ref)]
        if isinstance(pid, PersonProblem):
            raise DomainError(pid.message, field=pid.field)
        db.session.expire_all()
        person = db.session.get(Person, (tenant_id, pid))
        # The association's own pages show this name for the person, whatever another one stored.
        rosters.remember_typed_names(assoc.id, [(pid, data["first_name"], data["last_name"])],
                                     client_id=partner_id)
        if not Gateway(tenant_id, partner_id).may_change_person(pid):
            # Reported (too) by an association that did not authorise this partner: the shared row is not the
            # partner's to change or to read, even after it pushed a session with the person for this one;
            # the name it typed is kept for this association only (above). The answer is what a new person would be, so that it does not
            # tell whether the number (or name and birth date) is known in the municipality.
            return typed_person_view(person_id, data, person), 201 if before is None else 200
        if person.has_personnummer:
            person.first_name, person.last_name = data["first_name"], data["last_name"]
        elif data.get("sex"):
            person.sex = data["sex"]
        db.session.flush()
        view = {"person_id": person_id, "first_name": person.first_name, "last_name": person.last_name,
                "birth_date": person.birth_date, "sex": person.sex,
                "personnummer": person.masked_identity if person.has_personnummer else None}
        return view, 201 if before is None else 200


def typed_person_view(person_id: str, data: dict, person: Person) -> dict:
    """The answer for a person as the partner typed it: names, sex and birth date as given (a personal
    number's are derived from the number the partner gave), never what another association stored."""
    from apn.intake.people import SEX_VALUES

    if person.has_personnummer:  # matched by the number the partner typed: these follow from it
        birth_date, sex, masked = person.birth_date, person.sex, person.masked_identity
    else:
        birth_date, sex, masked = data.get("birth_date"), SEX_VALUES.get(data.get("sex") or "X", "X"), None
    return {"person_id": person_id, "first_name": data["first_name"], "last_name": data["last_name"],
            "birth_date": birth_date, "sex": sex, "personnummer": masked}


@blp.route("/<orgnr>/expected-grant")
class ExpectedGrant(MethodView):
    @blp.doc(security=docs.BEARER, parameters=[docs.ORGNR], responses={
        **docs.errors(401, 403, 404, 422, 429),
        200: {"content": {"application/json": {"schema": {"type": "object", "additionalProperties": True},
                                               "example": {"period": "2025H1", "total_ore": 1250000}}}}})
    @blp.arguments(ExpectedGrantArgs, location="query")
    @blp.response(200, description="The rule engine's expected grant: amounts in öre, with the clauses and "
                                   "counts behind them")
    def get(self, args: dict, orgnr: str):
        """The expected grant of the association for a grant period, by the municipality's rules."""
        assoc = authorised_association(orgnr)
        code = args["period"]
        if db.session.execute(select(GrantPeriod.id).where(GrantPeriod.code == code)).first() is None:
            raise NotFound(f"no grant period {code} in this municipality", field="period", location="query")
        from apn.clash import reporter_preview
        from apn.rules import expected_grant

        tenant_id = require_tenant_id()
        with reporter_preview():  # no signal of clashes in another municipality (docs/clashes.md)
            grant = expected_grant(tenant_id, assoc.id, code)
        rejected = grant.get("rejected_sessions") or []
        ids = {r["session_id"] for r in rejected if isinstance(r, dict) and r.get("session_id") is not None}
        if ids:
            kods = dict(db.session.execute(select(ActivitySession.id, ActivitySession.partner_code).where(
                ActivitySession.id.in_(sorted(ids)),
                ActivitySession.partner_client_id == current_partner_id())).all())
            for r in rejected:
                if isinstance(r, dict):
                    r["kod"] = kods.get(r.get("session_id"))
        return grant
