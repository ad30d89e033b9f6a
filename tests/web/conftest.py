"""Fixtures for the association web UI: two municipalities, an association with groups, an administrator."""

from __future__ import annotations

import pytest
from webhelpers import World, make_user

from apn.extensions import db
from apn.testing import factories as f


@pytest.fixture
def world(app) -> World:
    """Two municipalities; in the first an association with two groups and its administrator."""
    with app.app_context():
        t = f.create_tenant(slug="umea", name="Umeå kommun", kommunkod="2480")
        a = f.create_association(t, name="IK Test")
        g1 = f.create_group(t, a, name="P13 fotboll")
        g2 = f.create_group(t, a, name="F11 fotboll")
        make_user(t, "admin@ik.se", "association_admin", association_id=a.id)
        t2 = f.create_tenant(slug="lulea", name="Luleå kommun", kommunkod="2580")
        a2 = f.create_association(t2, name="Other IF")
        g3 = f.create_group(t2, a2, name="Other group")
        db.session.commit()
        return World(t.id, t.slug, a.id, [g1.id, g2.id], "admin@ik.se", t2.id, t2.slug, a2.id, g3.id)



@pytest.fixture(autouse=True)
def _fresh_login_throttle(app):
    """Every test starts with no failed sign-ins counted (the counter lives as long as the app)."""
    app.extensions.pop("apn_login_throttle", None)
    app.extensions.pop("apn_mail_outbox", None)
    yield
