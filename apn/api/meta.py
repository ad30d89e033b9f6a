"""Public facts about the installation: the municipalities it serves."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import select

from apn.extensions import db
from apn.models import Tenant

PREFIX = "/municipalities"
blp = Blueprint("municipalities", __name__, description="Municipalities served by this installation")


class MunicipalitySchema(Schema):
    """A municipality (tenant)."""

    slug = fields.String(dump_only=True, metadata={"example": "umea"})
    name = fields.String(dump_only=True, metadata={"example": "Umeå kommun"})
    kommunkod = fields.String(dump_only=True, metadata={"example": "2480", "description": "Municipality code"})


@blp.route("")
class Municipalities(MethodView):
    @blp.response(200, MunicipalitySchema(many=True))
    def get(self):
        """List the municipalities served."""
        return db.session.execute(select(Tenant).order_by(Tenant.name)).scalars().all()
