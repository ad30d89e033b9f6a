"""apn.web.access: roles and the groups a user may report for."""

from __future__ import annotations

from webhelpers import make_user

from apn.extensions import db
from apn.models import Group, Tenant
from apn.services import accounts
from apn.tenancy import tenant_scope
from apn.testing import factories as f
from apn.web.access import forget_roles, reporter_group_ids, roles_of


def test_reporter_groups_from_grants_and_administered_associations(app, world):
    g1, g2 = world.group_ids
    with app.app_context():
        t = db.session.get(Tenant, world.tenant_id)
        admin = accounts.user_by_email(world.admin_email)
        leader = make_user(t, "leader@ik.se", "reporter", group_id=g1)
        stranger = make_user(t, "nobody@ik.se")
        with tenant_scope(t.id):
            other_assoc = f.create_association(t)
            other_group = f.create_group(t, other_assoc)
            Group.get_by_id(g2).active = False
            db.session.flush()
        assert reporter_group_ids(admin, t.id) == {g1}  # the inactive group is left out
        assert reporter_group_ids(leader, t.id) == {g1}
        assert reporter_group_ids(stranger, t.id) == set()
        assert other_group.id not in reporter_group_ids(admin, t.id)
        assert [r.role for r in roles_of(leader, t.id)] == ["reporter"]
        assert roles_of(leader, world.other_tenant_id) == []
        with tenant_scope(t.id):
            accounts.grant_role(leader, "association_admin", association_id=other_assoc.id)
        forget_roles()
        assert reporter_group_ids(leader, t.id) == {g1, other_group.id}
        db.session.rollback()
