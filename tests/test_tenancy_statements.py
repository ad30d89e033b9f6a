"""Central scoping sees every statement's FROM tables, not only mapped entities.

``select(func.count()).select_from(Model)`` has no mapped column entity, and a statement over a model's
``Table`` has none either: before, both went through unscoped and counted every tenant's rows. These tests
run with two tenants that both hold one row of every tenant-owned model, on both databases.
"""

from __future__ import annotations

import pytest
from sqlalchemy import exists, func, select

from apn.extensions import db
from apn.tenancy import NoTenantError, system_scope, tenant_scope
from tests.test_tenancy import _tenant_models, two_tenants  # noqa: F401 - the fixture is used by name

MODELS = _tenant_models()


def _counts(model) -> dict[str, int]:
    table = model.__table__
    return {
        "count_select_from_model": db.session.execute(select(func.count()).select_from(model)).scalar_one(),
        "count_select_from_table": db.session.execute(select(func.count()).select_from(table)).scalar_one(),
        "count_of_column": db.session.execute(select(func.count(model.tenant_id))).scalar_one(),
        "table_rows": len(db.session.execute(select(table)).all()),
        "table_column": len(db.session.execute(select(table.c.tenant_id)).all()),
        "subquery": db.session.execute(
            select(func.count()).select_from(select(table.c.tenant_id).subquery())).scalar_one(),
        "exists": int(db.session.execute(select(exists().where(table.c.tenant_id > 0))).scalar_one()),
    }


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_counts_and_table_statements_see_only_the_bound_tenant(two_tenants, model):  # noqa: F811
    a, b = two_tenants
    with system_scope():
        per_tenant = dict(db.session.execute(
            select(model.tenant_id, func.count()).group_by(model.tenant_id)).all())
    assert per_tenant.get(a) and per_tenant.get(b)
    for tid in (a, b):
        with tenant_scope(tid):
            counts = _counts(model)
        assert counts == {
            "count_select_from_model": per_tenant[tid],
            "count_select_from_table": per_tenant[tid],
            "count_of_column": per_tenant[tid],
            "table_rows": per_tenant[tid],
            "table_column": per_tenant[tid],
            "subquery": per_tenant[tid],
            "exists": 1,
        }, model.__name__
    with system_scope():
        assert _counts(model)["count_select_from_model"] == sum(per_tenant.values())


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_counts_and_table_statements_need_a_tenant(two_tenants, model):  # noqa: F811
    for stmt in (select(func.count()).select_from(model), select(func.count()).select_from(model.__table__),
                 select(model.__table__.c.tenant_id)):
        with pytest.raises(NoTenantError):
            db.session.execute(stmt).all()
        db.session.rollback()


def test_a_join_of_two_tenant_tables_is_scoped_on_both_sides(two_tenants):  # noqa: F811
    from apn.models import ActivitySession, Attendance

    a, b = two_tenants
    s, at = ActivitySession.__table__, Attendance.__table__
    # a join that forgets the tenant in its ON clause would pair A's attendance with B's sessions
    stmt = select(func.count()).select_from(at.join(s, at.c.session_id == s.c.id))
    with system_scope():
        total = db.session.execute(stmt).scalar_one()
        own = dict(db.session.execute(select(at.c.tenant_id, func.count()).group_by(at.c.tenant_id)).all())
    with tenant_scope(a):
        scoped = db.session.execute(stmt).scalar_one()
    assert scoped == own[a] < total
