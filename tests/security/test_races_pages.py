"""Two submits of one page at once (a double click, two tabs) store one row and never answer 500.

Issue 11 item 12, for the writes of the web pages and the services behind them that insert a row with a
unique key: the period report (one application per association and period), a person put on a roster (one
membership), a partner authorised (one authorisation), a role granted, an association registered and an
account created. Real concurrent HTTP requests against the test app served on 127.0.0.1 in threads, or
real concurrent transactions in threads, on SQLite and PostgreSQL as the suite runs.
"""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
import requests
from racekit import fire, no_server_error
from sqlalchemy import func, select

from apn.errors import Conflict
from apn.extensions import db
from apn.models import (
    Application,
    Association,
    GrantPeriod,
    GroupMember,
    PartnerAuthorisation,
    RoleGrant,
    User,
)
from apn.services import accounts, associations, partners
from apn.tenancy import tenant_scope
from apn.testing import factories as f
from tests.web.webhelpers import PASSWORD, make_user

ROUNDS = 3
WIDTH = 4  # requests per race
EMAIL = "boss@race.se"



@pytest.fixture
def world(app) -> dict:
    """A municipality, an association with a group, its administrator, and ROUNDS ended periods whose
    deadline is still ahead."""
    today = dt.date.today()
    with app.app_context():
        t = f.create_tenant(slug="racetown", name="Racetown", kommunkod="2480", ruleset="malmo-2020")
        a = f.create_association(t, name="Race IF")
        grp = f.create_group(t, a, name="Ungdom")
        make_user(t, EMAIL, "association_admin", association_id=a.id)
        with tenant_scope(t.id):
            periods = [GrantPeriod(tenant_id=t.id, code=f"RACE-{i}", starts_on=today - dt.timedelta(days=40),
                                   ends_on=today - dt.timedelta(days=1), deadline=today + dt.timedelta(days=20))
                       for i in range(ROUNDS)]
            db.session.add_all(periods)
            db.session.flush()
            out = {"tenant_id": t.id, "slug": t.slug, "association_id": a.id, "group_id": grp.id,
                   "periods": [p.id for p in periods]}
        db.session.commit()
    return out


def _browsers(live, world: dict, n: int = WIDTH) -> list[requests.Session]:
    """``n`` browser tabs of the signed-in administrator (one sign-in, its cookie in each tab)."""
    first = requests.Session()
    r = first.post(f"{live.url}/login", data={"email": EMAIL, "password": PASSWORD}, allow_redirects=False,
                   timeout=30)
    assert r.status_code == 302, r.text[:300]
    tabs = []
    for _ in range(n):
        tab = requests.Session()
        tab.cookies.update(first.cookies)
        tabs.append(tab)
    return tabs


def _base(live, world: dict) -> str:
    return f"{live.url}/k/{world['slug']}/associations/{world['association_id']}"


def _count(app, tenant_id: int, stmt) -> int:
    with app.app_context(), tenant_scope(tenant_id):
        return db.session.scalar(stmt)


def test_two_period_report_submits_store_one_application(app, live, world):
    tabs = _browsers(live, world)
    for period_id in world["periods"]:
        url = f"{_base(live, world)}/periods/{period_id}"
        answers = fire([lambda tab=tab, url=url: tab.post(url, data={"confirm": "y"}, allow_redirects=False, timeout=60)
                        for tab in tabs])
        no_server_error(answers)
        codes = sorted(a.status_code for a in answers)
        # The first submits; the others wait for it and are told the report is submitted already.
        assert codes == [302] + [409] * (WIDTH - 1), [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", a.text))[-700:] for a in answers][:1]
        for a in answers:
            if a.status_code == 409:
                assert "redan inskickad" in a.text
        assert _count(app, world["tenant_id"], select(func.count()).select_from(Application).where(
            Application.period_id == period_id, Application.status == "submitted")) == 1


def test_adding_one_person_at_once_puts_them_on_the_roster_once(app, live, world):
    tabs = _browsers(live, world)
    url = f"{_base(live, world)}/groups/{world['group_id']}/people"
    for r in range(ROUNDS):
        pnr = f.make_pnr(dt.date(2013, 4, 5 + r), 7)
        data = {"role": "participant", "first_name": "Alva", "last_name": "Ek", "personnummer": pnr}
        answers = fire([lambda tab=tab, data=data: tab.post(url, data=data, allow_redirects=False, timeout=60)
                        for tab in tabs])
        no_server_error(answers)
        assert [a.status_code for a in answers] == [302] * WIDTH, [a.text[:200] for a in answers]
    # One membership per person added, however many tabs added them.
    assert _count(app, world["tenant_id"], select(func.count()).select_from(GroupMember).where(
        GroupMember.group_id == world["group_id"])) == ROUNDS


def test_authorising_a_partner_at_once_stores_one_authorisation(app, live, world):
    with app.app_context(), tenant_scope(world["tenant_id"]):
        client_ids = [partners.create_client(f"System {r}")[0].client_id for r in range(ROUNDS)]
        db.session.commit()
    tabs = _browsers(live, world)
    for client_id in client_ids:
        url = f"{_base(live, world)}/partners/{client_id}/authorise"
        answers = fire([lambda tab=tab, url=url: tab.post(url, allow_redirects=False, timeout=60)
                        for tab in tabs])
        no_server_error(answers)
        assert [a.status_code for a in answers] == [302] * WIDTH, [a.text[:200] for a in answers]
    assert _count(app, world["tenant_id"], select(func.count()).select_from(PartnerAuthorisation).where(
        PartnerAuthorisation.association_id == world["association_id"],
        PartnerAuthorisation.withdrawn_at.is_(None))) == ROUNDS


def _race(app, tenant_id: int | None, work) -> list[object]:
    """Run ``work()`` in WIDTH threads at once, each in its own app context and transaction (committed);
    the results, or the exceptions raised, in thread order."""
    barrier = threading.Barrier(WIDTH)
    out: list[object] = [None] * WIDTH

    def run(i: int) -> None:
        with app.app_context():
            try:
                barrier.wait(30)
                if tenant_id is None:
                    work()
                else:
                    with tenant_scope(tenant_id):
                        work()
                db.session.commit()
                out[i] = "ok"
            except Exception as exc:  # noqa: BLE001 - returned to the test
                db.session.rollback()
                out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(WIDTH)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a thread did not finish in time"
    return out


def test_two_accounts_for_one_address_at_once_one_is_told_conflict(app, world):
    for r in range(ROUNDS):
        results = _race(app, None, lambda r=r: accounts.create_user(f"Twin{r}@Race.se", "Twin", PASSWORD))
        assert results.count("ok") == 1, results
        assert all(isinstance(x, Conflict) for x in results if x != "ok"), results
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(User).where(
                User.email == f"twin{r}@race.se")) == 1


def test_one_role_granted_twice_at_once_is_one_grant(app, world):
    with app.app_context():
        user_id = accounts.create_user("leader@race.se", "Leader", PASSWORD).id
        db.session.commit()

    def grant() -> None:
        accounts.grant_role(db.session.get(User, user_id), "reporter", association_id=world["association_id"],
                            group_id=world["group_id"])

    assert _race(app, world["tenant_id"], grant) == ["ok"] * WIDTH
    assert _count(app, world["tenant_id"], select(func.count()).select_from(RoleGrant).where(
        RoleGrant.user_id == user_id)) == 1


def test_one_association_registered_twice_at_once_one_is_told_conflict(app, world):
    for r in range(ROUNDS):
        orgnr = f.make_orgnr(900_000 + r)
        results = _race(app, world["tenant_id"], lambda orgnr=orgnr: associations.create_association(
            "Twin IF", orgnr))
        assert results.count("ok") == 1, results
        assert all(isinstance(x, Conflict) for x in results if x != "ok"), results
        assert _count(app, world["tenant_id"], select(func.count()).select_from(Association).where(
            Association.organisationsnummer == orgnr)) == 1
