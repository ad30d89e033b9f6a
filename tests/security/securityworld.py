"""A world for walking every route: one municipality with an association, a group with a roster, a reported
session, a user per role, a partner with a token, and the values that fill each URL argument."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select

from apn.extensions import db
from apn.models import GrantPeriod, RoleGrant
from apn.services import accounts
from apn.services import partners as partner_svc
from apn.tenancy import tenant_scope
from apn.testing import factories as f

PASSWORD = "correct horse battery"
#: Roles a signed-in user can have; ``None`` is a signed-in user without any role.
ROLES = ("reporter", "association_admin", "tenant_admin", "grant_officer", "planner", None)


@dataclass
class World:
    """Plain values (usable outside the app context)."""

    slug: str
    orgnr: str
    token: str
    client_id: str
    args: dict[str, object]
    emails: dict[str | None, str] = field(default_factory=dict)
    all_roles_email: str = ""

    @property
    def api_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def build_world() -> World:
    """Create and commit the world (inside an app context)."""
    t = f.create_tenant(slug="umea", name="Umeå kommun", kommunkod="2480")
    a = f.create_association(t, name="IK Test")
    fac = f.create_facility(t, name="Sporthallen")
    g = f.create_group(t, a, name="P13 fotboll", facility=fac, usual_weekday=1, usual_start=dt.time(18, 0),
                       usual_stop=dt.time(19, 30))
    kids = [f.create_person(t, dt.date(2012, 3, 3 + i), first_name=n, last_name="Berg")
            for i, n in enumerate(["Alva", "Bo"])]
    leader = f.create_person(t, dt.date(1985, 4, 4), first_name="Lena", last_name="Ledare")
    for k in kids:
        f.add_to_roster(t, g, k)
    f.add_to_roster(t, g, leader, role="leader")
    day = dt.date.today() - dt.timedelta(days=1)
    with tenant_scope(t.id):
        period = db.session.execute(select(GrantPeriod).where(
            GrantPeriod.starts_on <= day, GrantPeriod.ends_on >= day)).scalars().first()
    assert period is not None
    result = f.report_session(t, g, day, participants=kids, leaders=[leader])
    assert result.accepted, result.refused
    session_id = result.accepted[0].session_id
    emails: dict[str | None, str] = {}
    for role in ROLES:
        email = f"{role or 'norole'}@example.org"
        user = accounts.create_user(email, (role or "norole").title(), PASSWORD)
        emails[role] = email
        with tenant_scope(t.id):
            if role == "reporter":
                accounts.grant_role(user, role, association_id=a.id, group_id=g.id)
            elif role == "association_admin":
                accounts.grant_role(user, role, association_id=a.id)
            elif role is not None:
                accounts.grant_role(user, role)
    every = accounts.create_user("every@example.org", "Every Role", PASSWORD)
    with tenant_scope(t.id):
        accounts.grant_role(every, "reporter", association_id=a.id, group_id=g.id)
        accounts.grant_role(every, "association_admin", association_id=a.id)
        accounts.grant_role(every, "tenant_admin")
        client, _secret = partner_svc.create_client("ClubSoft")
        partner_svc.authorise(client.client_id, a.organisationsnummer)
        token, _ = partner_svc.issue_token(client)
        grant_id = db.session.execute(select(RoleGrant.id).where(RoleGrant.user_id == every.id,
                                                                  RoleGrant.role == "reporter")).scalar_one()
    args = {"tenant_slug": t.slug, "association_id": a.id, "group_id": g.id, "person_id": kids[0].id,
            "period_id": period.id, "session_id": session_id, "grant_id": grant_id, "orgnr": a.organisationsnummer,
            "card_number": "1042", "kod": "S-0001", "client_id": client.client_id, "action": "revoke",
            "token": "not-a-token", "code": "en", "filename": "app.css"}
    db.session.commit()
    return World(t.slug, a.organisationsnummer, token, client.client_id, args, emails, "every@example.org")


def sign_in(client, email: str) -> None:
    """Sign in through the form."""
    resp = client.post("/login", data={"email": email, "password": PASSWORD})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
