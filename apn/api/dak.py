"""``POST /api/v1/dak``: import a DAK 2.1/2.2 file through the one intake."""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from apn.api import docs
from apn.api.idempotency import idempotent
from apn.api.schemas import DakResultSchema
from apn.api.security import current_partner_id, protect
from apn.formats.dak import import_dak
from apn.services import partners as partner_svc
from apn.tenancy import require_tenant_id

PREFIX = "/dak"
blp = Blueprint("partner-dak", __name__, description="DAK (Digitalt aktivitetskort) file import")
protect(blp, body_types=("application/xml", "text/xml"))

_XML_DOC = {"schema": {"type": "string", "description": "A DAK 2.1 or 2.2 XML file"},
            "example": '<?xml version="1.0" encoding="UTF-8"?>\n<Aktivitetskort xmlns="http://'
                       'sverigesforeningssystem.se/importSchema.xsd"><Kommun kommunID="2480" version="2.2">…'
                       '</Kommun></Aktivitetskort>'}


@blp.route("")
class Dak(MethodView):
    @idempotent
    @blp.doc(security=docs.BEARER, parameters=[docs.IDEMPOTENCY],
             requestBody={"required": True, "content": {"application/xml": _XML_DOC, "text/xml": _XML_DOC}},
             responses=docs.errors(400, 401, 413, 415, 422, 429),
             description="Accepts DAK 2.1 and 2.2 (both namespaces, StoppDatum, Metod Add/Update/Remove). "
                         "Sessions with a wrong kommunID, of an association that has not authorised the "
                         "partner, with an invalid personal number, or in a grant period that is not open for "
                         "the association are refused with their line, reason and code (the first 1,000 are "
                         "listed, refused_total counts all); the rest of the file is kept. A file that cannot "
                         "be read at all is refused with 422 "
                         "(or 413 when too large) and nothing is stored.")
    @blp.response(200, DakResultSchema, example={
        "file": {"sessions": 3, "participations": 40, "leader_participations": 4},
        "accepted": {"sessions": 2, "participations": 27, "leader_participations": 3},
        "refused": [{"line": 57, "kod": "S-0003", "reason": "Datum: the grant period 2024H2 is closed",
                     "code": "period_closed"}],
        "refused_total": 1})
    def post(self):
        """Import a DAK file; the answer counts what the file held and what was kept."""
        partner_id = current_partner_id()
        report = import_dak(request.get_data(cache=True), tenant_id=require_tenant_id(),
                            partner_client_id=partner_id,
                            allowed_association_ids=partner_svc.authorised_association_ids(partner_id))
        return report.as_dict()
