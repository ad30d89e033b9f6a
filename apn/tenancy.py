"""The current tenant and the one place where tenant scoping is applied.

Every tenant-owned model inherits :class:`apn.models.base.TenantScoped`. While a tenant is bound
(:func:`tenant_scope`, or per request by the views), every ORM SELECT, UPDATE and DELETE on such a model
is limited to that tenant's rows by a ``with_loader_criteria`` option added in ``do_orm_execute``, and a
flush that would write a row of another tenant is refused. With no tenant bound, ORM access to tenant-owned
models raises :class:`NoTenantError` unless the caller entered :func:`system_scope` explicitly (CLI
commands that work across tenants, the demo generator, the token endpoint).

On PostgreSQL the same rule is enforced a second time by row-level security: the tenant id is written to
the transaction-local setting ``app.tenant_id`` (and ``app.all_tenants`` in system scope) at the start of
every transaction, and the policies created by the migrations compare each row against it.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria


class NoTenantError(RuntimeError):
    """Tenant-owned data was touched with no tenant bound and outside system scope."""


class CrossTenantWriteError(RuntimeError):
    """A flush tried to write a row that belongs to another tenant than the bound one."""


@dataclass(frozen=True)
class _Scope:
    tenant_id: int | None
    system: bool = False


_scope: contextvars.ContextVar[_Scope] = contextvars.ContextVar("apn_tenant_scope", default=_Scope(None))  # noqa: B039 - frozen, immutable


def current_tenant_id() -> int | None:
    """The id of the bound tenant, or None."""
    return _scope.get().tenant_id


def require_tenant_id() -> int:
    """The id of the bound tenant; raises :class:`NoTenantError` when none is bound."""
    tid = _scope.get().tenant_id
    if tid is None:
        raise NoTenantError("no tenant is bound")
    return tid


def in_system_scope() -> bool:
    """True inside :func:`system_scope` (cross-tenant work that was asked for explicitly)."""
    return _scope.get().system


def _apply_db_setting(session: Session | None, best_effort: bool = False) -> None:
    """Write the scope to PostgreSQL's transaction-local settings if a transaction is open.

    Without an explicit session, the app's ``db.session`` is used when an app context is active.
    """
    if session is None:
        from flask import has_app_context

        if not has_app_context():
            return
        from apn.extensions import db

        session = db.session()
    if not session.in_transaction():
        return
    try:
        _set_pg_settings(session.connection())
    except DBAPIError:
        # Leaving a scope inside a transaction the database has already aborted: the transaction can
        # only be rolled back, which discards its transaction-local settings anyway.
        if not best_effort:
            raise


_SET_SCOPE = text("SELECT set_config('app.tenant_id', :t, true), set_config('app.all_tenants', :a, true)")


def _set_pg_settings(conn) -> None:
    if conn.dialect.name != "postgresql":
        return
    scope = _scope.get()
    conn.execute(_SET_SCOPE, {"t": "" if scope.tenant_id is None else str(scope.tenant_id),
                              "a": "on" if scope.system else "off"})


@contextlib.contextmanager
def tenant_scope(tenant_id: int, session: Session | None = None) -> Iterator[None]:
    """Bind ``tenant_id`` for the block; pass the open session to update PostgreSQL's settings now."""
    token = _scope.set(_Scope(int(tenant_id)))
    _apply_db_setting(session)
    try:
        yield
    finally:
        _scope.reset(token)
        _apply_db_setting(session, best_effort=True)


@contextlib.contextmanager
def system_scope(session: Session | None = None) -> Iterator[None]:
    """Work across tenants for the block (explicit, never the default)."""
    token = _scope.set(_Scope(None, system=True))
    _apply_db_setting(session)
    try:
        yield
    finally:
        _scope.reset(token)
        _apply_db_setting(session, best_effort=True)


def bind_tenant(tenant_id: int | None) -> contextvars.Token:
    """Bind a tenant until :func:`unbind` (used per request); returns the token to reset."""
    return _scope.set(_Scope(tenant_id))


def unbind(token: contextvars.Token) -> None:
    """Undo :func:`bind_tenant`."""
    _scope.reset(token)


def _tenant_models(state: ORMExecuteState) -> bool:
    from apn.models.base import TenantScoped

    for mapper in state.all_mappers:
        if issubclass(mapper.class_, TenantScoped):
            return True
    return False


_installed: set[int] = set()


def install(session_class: type[Session] | Session) -> None:
    """Attach the scoping listeners to a session class (or the scoped session); once per target."""
    from apn.models.base import TenantScoped

    if id(session_class) in _installed:
        return
    _installed.add(id(session_class))

    @event.listens_for(session_class, "do_orm_execute")
    def _scope_orm_execute(state: ORMExecuteState) -> None:
        if not (state.is_select or state.is_update or state.is_delete):
            return
        if state.is_column_load or state.is_relationship_load:
            # Lazy loads of an already-scoped parent carry the parent's criteria.
            pass
        scope = _scope.get()
        if scope.system:
            return
        if not _tenant_models(state):
            return
        if scope.tenant_id is None:
            raise NoTenantError("tenant-owned data queried with no tenant bound")
        tid = scope.tenant_id
        state.statement = state.statement.options(
            with_loader_criteria(TenantScoped, lambda cls: cls.tenant_id == tid, include_aliases=True)
        )

    @event.listens_for(session_class, "before_flush")
    def _guard_flush(session: Session, flush_context, instances) -> None:
        scope = _scope.get()
        if scope.system:
            return
        for obj in list(session.new) + list(session.dirty) + list(session.deleted):
            if not isinstance(obj, TenantScoped):
                continue
            if scope.tenant_id is None:
                raise NoTenantError(f"{type(obj).__name__} written with no tenant bound")
            if obj.tenant_id is None:
                obj.tenant_id = scope.tenant_id
            elif obj.tenant_id != scope.tenant_id:
                raise CrossTenantWriteError(
                    f"{type(obj).__name__} of tenant {obj.tenant_id} written while tenant {scope.tenant_id} is bound"
                )

    @event.listens_for(session_class, "after_begin")
    def _after_begin(session: Session, transaction, connection) -> None:
        _set_pg_settings(connection)
