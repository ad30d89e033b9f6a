"""association person name: the name each association typed for a person, shown on its own pages

- ``association_person_name`` (tenant-owned, row-level security): (association, person) → the first and
  last name the association typed, the latest typing winning. Replaces the stopgap that kept these names
  in the audit log (action ``person.name_as_typed``) and read them back for display.
- Names recorded by that stopgap are copied over (the latest per association and person), so no
  association is shown a name another association stored after the upgrade. The audit rows stay.

Revision ID: 0006_association_person_name
Revises: 0005_account_security
Create Date: 2026-12-04 09:00:00

"""
import datetime as dt

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0006_association_person_name'
down_revision = '0005_account_security'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
#: The audit action the stopgap wrote (apn.services.rosters.NAME_AS_TYPED).
NAME_AS_TYPED = 'person.name_as_typed'


def upgrade():
    op.create_table('association_person_name',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('association_id', BIG_ID, nullable=False),
    sa.Column('person_id', BIG_ID, nullable=False),
    sa.Column('first_name', sa.String(length=50), nullable=False),
    sa.Column('last_name', sa.String(length=50), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'association_id'], ['association.tenant_id', 'association.id'],
                            name=op.f('fk_association_person_name_tenant_id_association_id_association')),
    sa.ForeignKeyConstraint(['tenant_id', 'person_id'], ['person.tenant_id', 'person.id'],
                            name=op.f('fk_association_person_name_tenant_id_person_id_person')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_association_person_name_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'association_id', 'person_id', name=op.f('pk_association_person_name'))
    )
    with op.batch_alter_table('association_person_name', schema=None) as batch_op:
        batch_op.create_index('ix_association_person_name_person', ['tenant_id', 'person_id'], unique=False)

    from apn.dbsecurity import secure_tenant_table

    secure_tenant_table(op, "association_person_name", has_id=False)
    _copy_names_from_audit_log()


def _copy_names_from_audit_log() -> None:
    """The latest name each association typed per person, as the stopgap kept it in the audit log."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # The tables' row-level security binds their owner too: this transaction sees every tenant.
        op.execute("SELECT set_config('app.all_tenants', 'on', true)")
    audit = sa.table('audit_log', sa.column('tenant_id', sa.Integer()), sa.column('id', BIG_ID),
                     sa.column('at', sa.DateTime(timezone=True)), sa.column('action', sa.String()),
                     sa.column('entity', sa.String()), sa.column('entity_id', sa.String()),
                     sa.column('after', sa.JSON()))
    latest: dict[tuple[int, int, int], dict] = {}
    rows = bind.execute(sa.select(audit.c.tenant_id, audit.c.entity_id, audit.c.at, audit.c.after).where(
        audit.c.action == NAME_AS_TYPED, audit.c.entity == 'association').order_by(audit.c.id))
    for tenant_id, entity_id, at, after in rows:
        if not (isinstance(after, dict) and str(entity_id or '').isdigit()
                and isinstance(after.get('person_id'), int)):
            continue
        latest[(tenant_id, int(entity_id), after['person_id'])] = {
            'tenant_id': tenant_id, 'association_id': int(entity_id), 'person_id': after['person_id'],
            'first_name': str(after.get('first_name') or '?')[:50],
            'last_name': str(after.get('last_name') or '?')[:50],
            'updated_at': at or dt.datetime.now(dt.UTC)}
    if not latest:
        return
    # Only rows whose association and person still exist (the foreign keys hold them to that).
    assoc = sa.table('association', sa.column('tenant_id', sa.Integer()), sa.column('id', BIG_ID))
    person = sa.table('person', sa.column('tenant_id', sa.Integer()), sa.column('id', BIG_ID))
    known_assocs = set(bind.execute(sa.select(assoc.c.tenant_id, assoc.c.id)).tuples())
    wanted_people = {(t, p) for t, _a, p in latest}
    known_people: set[tuple[int, int]] = set()
    for tenant_id in {t for t, _p in wanted_people}:
        ids = sorted(p for t, p in wanted_people if t == tenant_id)
        for i in range(0, len(ids), 900):
            known_people |= set(bind.execute(sa.select(person.c.tenant_id, person.c.id).where(
                person.c.tenant_id == tenant_id, person.c.id.in_(ids[i:i + 900]))).tuples())
    names = sa.table('association_person_name', sa.column('tenant_id', sa.Integer()),
                     sa.column('association_id', BIG_ID), sa.column('person_id', BIG_ID),
                     sa.column('first_name', sa.String()), sa.column('last_name', sa.String()),
                     sa.column('updated_at', sa.DateTime(timezone=True)))
    keep = [row for (t, a, p), row in latest.items() if (t, a) in known_assocs and (t, p) in known_people]
    if keep:
        op.bulk_insert(names, keep)


def downgrade():
    with op.batch_alter_table('association_person_name', schema=None) as batch_op:
        batch_op.drop_index('ix_association_person_name_person')

    op.drop_table('association_person_name')
