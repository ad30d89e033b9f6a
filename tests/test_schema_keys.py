"""The schema stays ready for a tenant-distributed PostgreSQL (Citus, ``docs/scaling.md``).

A table distributed by ``tenant_id`` needs ``tenant_id`` in its primary key, in every unique constraint and
in both sides of every foreign key to another tenant-owned table; a row-level-security policy must decide by
``tenant_id`` only. These tests read the models' metadata (both databases) and, on PostgreSQL, the migrated
catalogue, so a new table or constraint that breaks the rule fails here.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Index, UniqueConstraint, inspect

from apn.extensions import db
from apn.models.base import Base, TenantScoped

TENANT_TABLES = sorted({m.local_table for m in Base.registry.mappers if issubclass(m.class_, TenantScoped)},
                       key=lambda t: t.name)


@pytest.mark.parametrize("table", TENANT_TABLES, ids=lambda t: t.name)
def test_tenant_id_leads_the_primary_key(table):
    assert [c.name for c in table.primary_key.columns][0] == "tenant_id"


@pytest.mark.parametrize("table", TENANT_TABLES, ids=lambda t: t.name)
def test_every_unique_key_holds_the_tenant(table):
    uniques = [c for c in table.constraints if isinstance(c, UniqueConstraint)]
    uniques += [i for i in table.indexes if isinstance(i, Index) and i.unique]
    for u in uniques:
        assert "tenant_id" in {c.name for c in u.columns}, f"{table.name}: {u.name} lacks tenant_id"


@pytest.mark.parametrize("table", TENANT_TABLES, ids=lambda t: t.name)
def test_foreign_keys_to_tenant_tables_carry_the_tenant(table):
    names = {t.name for t in TENANT_TABLES}
    for fk in table.foreign_key_constraints:
        if fk.referred_table.name not in names:
            continue
        pairs = {(e.parent.name, e.column.name) for e in fk.elements}
        assert ("tenant_id", "tenant_id") in pairs, f"{table.name}: {fk.name} -> {fk.referred_table.name}"


def test_the_migrated_database_has_the_same_rule(app):
    """The same three checks on the tables the migrations made (not only on the models)."""
    names = {t.name for t in TENANT_TABLES}
    with app.app_context():
        insp = inspect(db.engine)
        for name in names:
            assert insp.get_pk_constraint(name)["constrained_columns"][0] == "tenant_id", name
            for u in insp.get_unique_constraints(name):
                assert "tenant_id" in u["column_names"], (name, u)
            for i in insp.get_indexes(name):
                if i["unique"]:
                    assert "tenant_id" in i["column_names"], (name, i)
            for fk in insp.get_foreign_keys(name):
                if fk["referred_table"] in names:
                    pairs = set(zip(fk["constrained_columns"], fk["referred_columns"], strict=True))
                    assert ("tenant_id", "tenant_id") in pairs, (name, fk)


@pytest.mark.postgresql
def test_row_level_security_policies_decide_by_tenant_id_only(app, postgres):
    """Every tenant table has forced RLS, and each policy's expressions name no column but tenant_id."""
    names = {t.name for t in TENANT_TABLES}
    with app.app_context(), db.engine.connect() as conn:
        forced = {r[0] for r in conn.exec_driver_sql(
            "SELECT relname FROM pg_class WHERE relrowsecurity AND relforcerowsecurity")}
        assert names <= forced, names - forced
        policies = conn.exec_driver_sql(
            "SELECT tablename, coalesce(qual, '') || ' ' || coalesce(with_check, '') FROM pg_policies").all()
    by_table: dict[str, list[str]] = {}
    for table, expr in policies:
        by_table.setdefault(table, []).append(expr)
    for name in names:
        assert by_table.get(name), f"{name} has no policy"
        for expr in by_table[name]:
            without_strings = re.sub(r"'[^']*'", "''", expr)
            identifiers = set(re.findall(r"\b([a-z_][a-z0-9_]*)\b(?!\s*\()", without_strings))
            columns = identifiers & {c.name for c in Base.metadata.tables[name].columns}
            assert columns == {"tenant_id"}, (name, expr)
