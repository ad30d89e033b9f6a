"""Who may see what in the web UI: the tenant of a request, the user's roles, and guards for views.

Web URLs for tenant data live under ``/k/<tenant_slug>/…``. A blueprint opts in with
:func:`install_tenant_routing`: the slug is taken out of the view arguments, the tenant is looked up and
bound for the request (:func:`apn.tenancy.bind_tenant`; unbound in teardown), and ``url_for`` fills in
``tenant_slug`` by itself while a tenant is bound. Views then use :func:`current_tenant` and the guards
below; every ORM query inside the request is scoped to that tenant centrally (``apn.tenancy``).

Typical use::

    bp = Blueprint("leader", __name__, url_prefix="/k/<tenant_slug>/leader")
    install_tenant_routing(bp)

    @bp.get("/groups/<int:group_id>")
    @login_required
    def group(group_id):
        grp = require_group(group_id)          # 404 outside the tenant, 403 without reporting rights
        ...

Roles come from :class:`apn.models.RoleGrant` rows only: ``reporter`` (one group of one association),
``association_admin`` (one association: every group of it), and the tenant roles ``tenant_admin``,
``grant_officer``, ``planner``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, abort, current_app, g
from flask_babel import gettext as _
from flask_login import current_user
from flask_login import login_required as _flask_login_required
from sqlalchemy import select

from apn import tenancy
from apn.extensions import db
from apn.models import Association, Group, RoleGrant, Tenant

__all__ = [
    "current_tenant",
    "install_tenant_routing",
    "login_required",
    "require_association_admin",
    "require_group",
    "reporter_group_ids",
    "role_required",
    "roles_of",
    "admin_association_ids",
    "forget_roles",
]

#: Flask-Login's decorator: anonymous visitors are sent to the sign-in page (``auth.login``).
login_required = _flask_login_required

_G_TENANT = "apn_tenant"
_G_TOKEN = "apn_tenant_token"
_G_ROLES = "apn_roles_cache"


# --- the tenant of a request ------------------------------------------------------------------------------

def _pull_tenant(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """url_value_preprocessor: take ``tenant_slug`` out of the view arguments and bind that tenant (404 if
    unknown)."""
    if not values or "tenant_slug" not in values:
        return
    slug = values.pop("tenant_slug")
    tenant = db.session.execute(select(Tenant).where(Tenant.slug == str(slug))).scalar_one_or_none()
    if tenant is None:
        abort(404, description=_("There is no municipality with this address."))
    g.setdefault(_G_TENANT, tenant)
    if getattr(g, _G_TOKEN, None) is None:
        setattr(g, _G_TOKEN, tenancy.bind_tenant(tenant.id))
        # The transaction may have begun before the tenant was bound (the slug lookup above): write the
        # tenant to PostgreSQL's transaction setting now so row-level security sees it.
        tenancy._apply_db_setting(db.session())


def _push_tenant(endpoint: str, values: dict[str, Any]) -> None:
    """url_defaults: fill in ``tenant_slug`` from the bound tenant when an endpoint needs it."""
    if "tenant_slug" in values:
        return
    tenant = getattr(g, _G_TENANT, None)
    if tenant is not None and current_app.url_map.is_endpoint_expecting(endpoint, "tenant_slug"):
        values["tenant_slug"] = tenant.slug


def _unbind_tenant(exc: BaseException | None = None) -> None:
    """teardown_request: unbind the tenant bound by :func:`_pull_tenant`."""
    token = g.pop(_G_TOKEN, None)
    if token is not None:
        tenancy.unbind(token)


def install_tenant_routing(bp: Blueprint) -> Blueprint:
    """Make ``bp`` a tenant blueprint: its rules carry ``<tenant_slug>`` (put it in ``url_prefix``, e.g.
    ``/k/<tenant_slug>/association``), the tenant is bound per request and ``url_for`` fills in the slug."""
    bp.url_value_preprocessor(_pull_tenant)
    bp.url_defaults(_push_tenant)
    bp.teardown_request(_unbind_tenant)
    return bp


def init_app(app: Flask) -> None:
    """App-wide parts: ``url_for`` fills in the slug for any blueprint, templates get ``current_tenant``,
    and the tenant is unbound after every request (also when a preprocessor failed)."""
    app.url_defaults(_push_tenant)
    app.teardown_request(_unbind_tenant)

    @app.context_processor
    def _tenant_context() -> dict[str, Any]:
        return {"tenant": getattr(g, _G_TENANT, None)}


def current_tenant() -> Tenant:
    """The tenant bound for this request from the ``/k/<tenant_slug>/`` URL; 404 when there is none."""
    tenant = getattr(g, _G_TENANT, None)
    if tenant is None:
        abort(404)
    return tenant


# --- roles -----------------------------------------------------------------------------------------------

def forget_roles() -> None:
    """Drop this request's cache of role grants (call after granting or withdrawing a role)."""
    g.pop(_G_ROLES, None)


def roles_of(user: Any, tenant_id: int) -> list[RoleGrant]:
    """Every role grant ``user`` holds in ``tenant_id`` (empty for anonymous visitors); cached per request."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    cache: dict[tuple[int, int], list[RoleGrant]] = g.setdefault(_G_ROLES, {})
    key = (int(user.id), int(tenant_id))
    if key not in cache:
        stmt = select(RoleGrant).where(RoleGrant.user_id == user.id, RoleGrant.tenant_id == tenant_id)
        if tenancy.current_tenant_id() == tenant_id:
            rows = db.session.execute(stmt).scalars().all()
        else:
            with tenancy.tenant_scope(tenant_id, db.session()):
                rows = db.session.execute(stmt).scalars().all()
        cache[key] = list(rows)
    return cache[key]


def admin_association_ids(user: Any, tenant_id: int) -> set[int]:
    """Associations of ``tenant_id`` that ``user`` administers (role ``association_admin``)."""
    return {r.association_id for r in roles_of(user, tenant_id)
            if r.role == "association_admin" and r.association_id is not None}


def reporter_group_ids(user: Any, tenant_id: int) -> set[int]:
    """Active groups ``user`` may report for in ``tenant_id``: groups of ``reporter`` grants, plus every
    group of the associations the user administers."""
    grants = roles_of(user, tenant_id)
    group_ids = {r.group_id for r in grants if r.role == "reporter" and r.group_id is not None}
    assoc_ids = admin_association_ids(user, tenant_id)
    if not group_ids and not assoc_ids:
        return set()
    cond = Group.id.in_(group_ids) if group_ids else None
    if assoc_ids:
        by_assoc = Group.association_id.in_(assoc_ids)
        cond = by_assoc if cond is None else (cond | by_assoc)
    stmt = select(Group.id).where(Group.tenant_id == tenant_id, Group.active.is_(True), cond)
    if tenancy.current_tenant_id() == tenant_id:
        return set(db.session.execute(stmt).scalars())
    with tenancy.tenant_scope(tenant_id, db.session()):
        return set(db.session.execute(stmt).scalars())


def _require_login() -> None:
    if not current_user.is_authenticated:
        from apn.extensions import login_manager

        abort(login_manager.unauthorized())


def require_group(group_id: int) -> Group:
    """The bound tenant's group ``group_id`` if the signed-in user may report for it.

    404 when the group does not exist in this tenant (another tenant's id looks the same), 403 when the user
    may not report for it.
    """
    _require_login()
    tenant = current_tenant()
    group = Group.get_by_id(group_id)
    if group is None:
        abort(404, description=_("The group was not found."))
    if group.id not in reporter_group_ids(current_user, tenant.id):
        abort(403, description=_("You may not report for this group."))
    return group


def require_association_admin(association_id: int) -> Association:
    """The bound tenant's association ``association_id`` if the signed-in user administers it.

    404 when it does not exist in this tenant, 403 when the user is not its administrator.
    """
    _require_login()
    tenant = current_tenant()
    assoc = Association.get_by_id(association_id)
    if assoc is None:
        abort(404, description=_("The association was not found."))
    if assoc.id not in admin_association_ids(current_user, tenant.id):
        abort(403, description=_("You are not an administrator of this association."))
    return assoc


def role_required(*roles: str) -> Callable:
    """Decorator: the signed-in user must hold one of ``roles`` (any scope) in the bound tenant, else 403.

    Implies :func:`login_required`; use it on views of a tenant blueprint.
    """
    wanted = set(roles)

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            _require_login()
            tenant = current_tenant()
            if not any(r.role in wanted for r in roles_of(current_user, tenant.id)):
                abort(403, description=_("You do not have the role this page needs."))
            return view(*args, **kwargs)

        return wrapper

    return decorator
