"""Central tenant scoping: code running for tenant A can neither read nor change tenant B's rows through
the ORM, even when it asks by id — for every tenant-owned model."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import inspect, select, update
from sqlalchemy.exc import ProgrammingError

from apn.extensions import db
from apn.models import (
    ActivitySession,
    Application,
    AssociationPersonName,
    AuditEntry,
    ClashFlag,
    Decision,
    DecisionLine,
    GroupMember,
    IdempotencyKey,
    LeaderInvitation,
    PartnerAuthorisation,
    PartnerClient,
    PartnerPerson,
    Payout,
    PayoutBatch,
    RoleGrant,
    RuleSet,
    TenantScoped,
    User,
)
from apn.models.base import Base
from apn.tenancy import CrossTenantWriteError, NoTenantError, system_scope, tenant_scope
from apn.testing import factories as f


def _tenant_models() -> list[type]:
    return sorted((m.class_ for m in Base.registry.mappers if issubclass(m.class_, TenantScoped)),
                  key=lambda c: c.__name__)


def _populate(tenant) -> None:
    """One row of every tenant-owned model in ``tenant``."""
    tid = tenant.id
    area = f.create_home_area(tenant)
    fac = f.create_facility(tenant, home_area=area)
    assoc = f.create_association(tenant, payout_method="bankgiro", payout_account="5050-1055")
    group = f.create_group(tenant, assoc, facility=fac)
    kid = f.create_person(tenant, dt.date(2013, 2, 2), home_area=area)
    other = f.create_person(tenant, dt.date(2013, 3, 3))
    leader = f.create_person(tenant, dt.date(1985, 1, 1))
    f.add_to_roster(tenant, group, kid)
    f.report_session(tenant, group, dt.date(2025, 2, 3), participants=[kid, other], leaders=[leader])
    f.report_session(tenant, group, dt.date(2025, 2, 3), start="18:30", stop="20:00", participants=[kid],
                     leaders=[leader])
    user = User(email=f"u{tid}@example.se", name="U")
    db.session.add(user)
    db.session.flush()
    with tenant_scope(tid):
        s1, s2 = db.session.execute(select(ActivitySession.id).order_by(ActivitySession.id)).scalars().all()
        from apn.models import GrantPeriod

        gp = db.session.execute(select(GrantPeriod).where(GrantPeriod.code == "2025H1")).scalar_one_or_none()
        if gp is None:
            gp = GrantPeriod(tenant_id=tid, code="2025H1", starts_on=dt.date(2025, 1, 1),
                             ends_on=dt.date(2025, 6, 30), deadline=dt.date(2025, 8, 25))
            db.session.add(gp)
            db.session.flush()
        rs = RuleSet(tenant_id=tid, name="r", version=1, valid_from=dt.date(2000, 1, 1), document={})
        client = PartnerClient(tenant_id=tid, name="P", client_id=f"c{tid}", secret_hash="x")
        db.session.add_all([rs, client])
        db.session.flush()
        app_ = Application(tenant_id=tid, association_id=assoc.id, period_id=gp.id)
        db.session.add(app_)
        db.session.flush()
        dec = Decision(tenant_id=tid, application_id=app_.id, status="approved", amount_ore=100)
        batch = PayoutBatch(tenant_id=tid, period_id=gp.id)
        db.session.add_all([dec, batch])
        db.session.flush()
        db.session.add_all([
            DecisionLine(tenant_id=tid, decision_id=dec.id, line_no=1, clause="c", description="d", amount_ore=100),
            Payout(tenant_id=tid, batch_id=batch.id, association_id=assoc.id, decision_id=dec.id, amount_ore=100,
                   payout_method="bankgiro", payout_account="50501055"),
            RoleGrant(tenant_id=tid, user_id=user.id, role="reporter", association_id=assoc.id, group_id=group.id),
            PartnerAuthorisation(tenant_id=tid, partner_client_id=client.id, association_id=assoc.id),
            PartnerPerson(tenant_id=tid, partner_client_id=client.id, external_id="p1", person_id=kid.id),
            ClashFlag(tenant_id=tid, kind="person_overlap", session_id=s1, other_session_id=s2, person_id=kid.id,
                      clash_key="tenancy-test"),
            AuditEntry(tenant_id=tid, action="test", entity="x"),
            AssociationPersonName(tenant_id=tid, association_id=assoc.id, person_id=kid.id, first_name="K",
                                  last_name="Typed"),
            IdempotencyKey(tenant_id=tid, actor="user:1", key="k", method="POST", path="/", request_hash="h",
                           response_status=200, response_body="{}"),
            LeaderInvitation(tenant_id=tid, association_id=assoc.id, email=f"leader{tid}@example.se", name="L",
                             group_ids=[group.id]),
        ])
        db.session.flush()
        db.session.add(GroupMember(tenant_id=tid, group_id=group.id, person_id=leader.id, role="leader"))
        db.session.flush()


@pytest.fixture
def two_tenants(ctx):
    a = f.create_tenant(slug="aaa", kommunkod="2480")
    b = f.create_tenant(slug="bbb", kommunkod="1384")
    _populate(a)
    _populate(b)
    db.session.commit()
    return a.id, b.id


def test_every_tenant_model_is_populated_in_both_tenants(two_tenants):
    a, b = two_tenants
    with system_scope():
        for model in _tenant_models():
            tids = set(db.session.execute(select(model.tenant_id)).scalars())
            assert {a, b} <= tids, model.__name__


@pytest.mark.parametrize("model", _tenant_models(), ids=lambda m: m.__name__)
def test_tenant_a_cannot_read_or_change_tenant_b(two_tenants, model):
    a, b = two_tenants
    with system_scope():
        b_pks = [inspect(o).identity for o in db.session.execute(select(model).where(model.tenant_id == b)).scalars()]
    db.session.expunge_all()
    db.session.commit()
    assert b_pks
    with tenant_scope(a):
        # reads: only A's rows, and B's rows are not found even by their full primary key
        rows = db.session.execute(select(model)).scalars().all()
        assert rows and {r.tenant_id for r in rows} == {a}
        for pk in b_pks:
            assert db.session.get(model, pk) is None
        assert db.session.execute(select(model).where(model.tenant_id == b)).first() is None
        # bulk writes: an UPDATE aimed at B's rows touches nothing
        stmt = update(model).where(model.tenant_id == b).values(tenant_id=b)
        if model is AuditEntry and db.engine.dialect.name == "postgresql":
            with pytest.raises(ProgrammingError, match="permission denied"):  # append-only for the app role
                db.session.execute(stmt)
        else:
            assert db.session.execute(stmt).rowcount == 0
    db.session.rollback()
    # unit-of-work writes: deleting B's row while A is bound is refused before it reaches the database
    with system_scope():
        obj = db.session.execute(select(model).where(model.tenant_id == b)).scalars().first()
    with tenant_scope(a):
        db.session.delete(obj)
        with pytest.raises(CrossTenantWriteError):
            db.session.flush()
    db.session.rollback()
    with system_scope():
        assert db.session.execute(select(model).where(model.tenant_id == b)).first() is not None


def test_no_tenant_bound_is_an_error(two_tenants):
    with pytest.raises(NoTenantError):
        db.session.execute(select(ActivitySession)).all()
