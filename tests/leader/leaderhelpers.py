"""Helpers for the leader's tests: a municipality with an association, groups, a roster and a leader who may
report for one group; signing in goes through the real sign-in form."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from apn.extensions import db
from apn.services import accounts
from apn.tenancy import tenant_scope
from apn.testing import factories as f

PASSWORD = "correct horse battery"


@dataclass
class World:
    """Ids of what a test needs (objects are not carried across app contexts)."""

    tenant_id: int
    slug: str
    association_id: int
    group_id: int
    other_group_id: int
    facility_id: int
    participant_ids: list[int]
    leader_id: int
    user_id: int
    email: str


def build_world(slug: str = "umea", kommunkod: str = "2480", email: str = "leader@example.org",
                ruleset: str | None = None) -> World:
    """Create the data (inside an app context) and commit it; ``ruleset`` names a rule preset to install."""
    t = f.create_tenant(slug=slug, name="Umeå kommun", kommunkod=kommunkod, ruleset=ruleset)
    a = f.create_association(t, name="IK Test")
    fac = f.create_facility(t, name="Sporthallen")
    f.create_facility(t, name="Skolgymnastiken")
    g = f.create_group(t, a, name="P13 fotboll", facility=fac, usual_weekday=1,
                       usual_start=dt.time(18, 0), usual_stop=dt.time(19, 30), main_activity="Fotboll")
    other = f.create_group(t, a, name="F15 fotboll")
    kids = [f.create_person(t, dt.date(2012, 1 + i, 3 + i), female=i % 2 == 0, first_name=n, last_name="Berg")
            for i, n in enumerate(["Alva", "Bo", "Cleo", "Dan"])]
    leader = f.create_person(t, dt.date(1985, 4, 4), first_name="Lena", last_name="Ledare")
    for k in kids:
        f.add_to_roster(t, g, k)
    f.add_to_roster(t, g, leader, role="leader")
    user = accounts.create_user(email, "Lena Ledare", PASSWORD)
    with tenant_scope(t.id):
        accounts.grant_role(user, "reporter", group_id=g.id)
    db.session.commit()
    return World(t.id, slug, a.id, g.id, other.id, fac.id, [k.id for k in kids], leader.id, user.id, email)


def sign_in(client, email: str, password: str = PASSWORD) -> None:
    """Sign in through the sign-in form."""
    resp = client.post("/login", data={"email": email, "password": password})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
