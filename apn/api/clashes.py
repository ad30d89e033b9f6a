"""Clash flags on the partner's sessions, as a reporter may see them (nothing of other associations)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import and_, or_, select

from apn.api import docs
from apn.api.operations import Gateway, as_utc, clash_note, parse_instant
from apn.api.schemas import ClashFlagSchema, ClashListArgs
from apn.api.security import current_partner_id, protect
from apn.extensions import db
from apn.models import ActivitySession, ClashFlag, PartnerAuthorisation
from apn.tenancy import require_tenant_id

PREFIX = "/clashes"
blp = Blueprint("partner-clashes", __name__, description="Clash flags (krockar) on the partner's sessions")
protect(blp)

MAX_FLAGS = 5000


def partner_flags(tenant_id: int, partner_id: int, since=None) -> list[dict]:
    """Flags on the partner's sessions in authorised associations, in the clash check's reporter view."""
    from apn.clash import flags_for_sessions

    cf, s, pa = ClashFlag, ActivitySession, PartnerAuthorisation
    stmt = (select(cf.id, cf.created_at, s.id.label("session_id"), s.partner_code)
            .join(s, and_(s.tenant_id == cf.tenant_id, or_(s.id == cf.session_id, s.id == cf.other_session_id)))
            .join(pa, and_(pa.tenant_id == s.tenant_id, pa.association_id == s.association_id,
                           pa.partner_client_id == s.partner_client_id, pa.withdrawn_at.is_(None)))
            .where(cf.tenant_id == tenant_id, s.partner_client_id == partner_id))
    if since is not None:
        stmt = stmt.where(cf.created_at >= since)
    rows = db.session.connection().execute(stmt.order_by(cf.created_at, cf.id).limit(MAX_FLAGS)).all()
    wanted = {(r.id, r.session_id): r for r in rows}
    views = flags_for_sessions(tenant_id, sorted({r.session_id for r in rows}))
    gw = Gateway(tenant_id, partner_id)
    ext = gw.external_ids({v["person_id"] for vs in views.values() for v in vs if v.get("person_id")})
    out = []
    for sid, notes in views.items():
        for v in notes:
            row = wanted.get((v.get("flag_id"), sid))
            if row is None:
                continue
            out.append({**clash_note(v), "kod": row.partner_code, "person_id": ext.get(v.get("person_id")),
                        "created_at": as_utc(row.created_at), "_order": (row.created_at, row.id)})
    out.sort(key=lambda f: f.pop("_order"))
    return out


@blp.route("")
class Clashes(MethodView):
    @blp.doc(security=docs.BEARER, responses=docs.errors(401, 422, 429),
             description="The clash flags raised on the partner's sessions (at most 5,000, oldest first): the "
                         "same person at two sessions at the same time, a session reported twice. The other "
                         "side of a clash is not identified unless it is the same association's.")
    @blp.arguments(ClashListArgs, location="query")
    @blp.response(200, ClashFlagSchema(many=True))
    def get(self, args: dict):
        """List clash flags on the partner's sessions."""
        since = parse_instant(args["since"], "since") if args.get("since") else None
        return partner_flags(require_tenant_id(), current_partner_id(), since)
