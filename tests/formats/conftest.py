"""Fixtures for the DAK tests: a municipality (2480) with an association that authorised a partner."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from apn.extensions import db
from apn.models import PartnerAuthorisation, PartnerClient
from apn.tenancy import tenant_scope
from apn.testing.factories import create_association, create_tenant, make_orgnr, make_pnr


@dataclass
class DakEnv:
    """What the DAK tests work with."""

    tenant: object
    assoc: object
    other_assoc: object  # in the tenant, has not authorised the partner
    partner_id: int
    orgnr: str

    def pnr(self, n: int, year: int = 2012) -> str:
        """A valid personal number, distinct per ``n``."""
        return make_pnr(dt.date(year, 1 + n % 12, 1 + n % 28), n)


def make_partner(tenant, name: str = "KlubbAdmin", authorise=()) -> int:
    """A partner client in ``tenant`` authorised by ``authorise`` (associations); returns its id."""
    with tenant_scope(tenant.id):
        pc = PartnerClient(tenant_id=tenant.id, name=name, client_id=f"cid-{name}", secret_hash="not-used")
        db.session.add(pc)
        db.session.flush()
        for a in authorise:
            db.session.add(PartnerAuthorisation(tenant_id=tenant.id, partner_client_id=pc.id, association_id=a.id))
        db.session.flush()
        return pc.id


@pytest.fixture
def env(ctx) -> DakEnv:
    """Tenant 2480, an association (authorised the partner) and another one (did not)."""
    tenant = create_tenant(slug="umea", kommunkod="2480", name="Umeå kommun")
    orgnr = make_orgnr(4242)
    assoc = create_association(tenant, name="IK Test", orgnr=orgnr)
    other = create_association(tenant, name="Andra IF", orgnr=make_orgnr(4343))
    pid = make_partner(tenant, authorise=[assoc])
    db.session.commit()
    return DakEnv(tenant, assoc, other, pid, orgnr)
