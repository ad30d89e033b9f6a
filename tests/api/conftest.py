"""Fixtures for the partner gateway: a municipality with associations, an authorised partner and its token."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from apn.extensions import db
from apn.services import partners as partner_svc
from apn.tenancy import tenant_scope
from apn.testing import factories as f


@dataclass
class Partner:
    """What a test needs to talk to the API as one partner."""

    tenant_id: int
    kommunkod: str
    orgnr: str
    other_orgnr: str
    client_id: str
    secret: str
    partner_id: int
    token: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}


def make_partner(app, *, slug: str = "umea", kommunkod: str = "2480", ruleset: str | None = None) -> Partner:
    """A municipality with two associations, a partner authorised by the first, and a token."""
    with app.app_context():
        t = f.create_tenant(slug=slug, kommunkod=kommunkod, name=f"{slug} kommun", ruleset=ruleset)
        a = f.create_association(t, name="IFK Test")
        b = f.create_association(t, name="Other Club")
        with tenant_scope(t.id):
            client, secret = partner_svc.create_client("ClubSoft")
            partner_svc.authorise(client.client_id, a.organisationsnummer)
            token, _ = partner_svc.issue_token(client)
        p = Partner(t.id, kommunkod, a.organisationsnummer, b.organisationsnummer, client.client_id, secret,
                    client.id, token)
        db.session.commit()
    return p


@pytest.fixture
def partner(app) -> Partner:
    """An authorised partner in municipality 2480 with a valid token."""
    return make_partner(app)
