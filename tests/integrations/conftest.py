"""Fixtures for the partner side: the app served over real HTTP on 127.0.0.1 and a partner set up in it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from netutil import Partner

from apn.extensions import db
from apn.services import partners
from apn.tenancy import tenant_scope
from apn.testing.factories import create_association, create_tenant, make_orgnr

# The partner-side package lives at the repository root (integrations/), beside apn/; the editable install
# maps only apn, so make the root importable for these tests (python -m integrations… from the root works).
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)



@pytest.fixture
def partner(app) -> Partner:
    """Tenant 2480, an association, and a partner client it authorised."""
    with app.app_context():
        tenant = create_tenant(slug="umea", kommunkod="2480", name="Umeå kommun")
        orgnr = make_orgnr(5151)
        assoc = create_association(tenant, name="IK Simulator", orgnr=orgnr)
        with tenant_scope(tenant.id):
            client, secret = partners.create_client("KlubbAdmin AB")
            partners.authorise(client.client_id, orgnr)
            out = Partner(tenant.id, client.id, client.client_id, secret, orgnr, assoc.id)
        db.session.commit()
        db.session.remove()
    return out
