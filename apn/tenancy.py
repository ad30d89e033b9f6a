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

from sqlalchemy import event, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.sql import util as sql_util
from sqlalchemy.sql.dml import UpdateBase


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


def _tenant_table_set() -> frozenset:
    """The tables of every tenant-owned model (computed once the models are mapped)."""
    global _TENANT_TABLES
    if _TENANT_TABLES is None:
        from apn.models.base import Base, TenantScoped

        _TENANT_TABLES = frozenset(m.local_table for m in Base.registry.mappers
                                   if issubclass(m.class_, TenantScoped))
    return _TENANT_TABLES


_TENANT_TABLES: frozenset | None = None


def _tenant_tables_of(statement) -> list:
    """Every tenant-owned table the statement reads or writes, wherever it appears (FROM, joins,
    subqueries, EXISTS, the target of an UPDATE or DELETE), whether named as a model or as its table."""
    owned = _tenant_table_set()
    found = sql_util.find_tables(statement, include_aliases=False, include_joins=False, include_crud=True)
    return [t for t in dict.fromkeys(found) if t in owned]


def scope_statement(statement, tenant_id: int, tables: list | None = None):
    """``statement`` limited to ``tenant_id``'s rows of every tenant-owned table it touches.

    ORM statements (models) get loader criteria, which reach every entity, also ``select_from(Model)``
    and relationship loads. Core statements over a model's ``Table`` get each such table replaced by the
    tenant's slice of it (``(SELECT … WHERE tenant_id = :t) AS table``), which the databases' planners
    flatten; a Core UPDATE or DELETE gets the tenant added to its WHERE clause.
    """
    from apn.models.base import TenantScoped

    tid = int(tenant_id)
    if statement._propagate_attrs.get("compile_state_plugin") == "orm":
        return statement.options(
            with_loader_criteria(TenantScoped, lambda cls: cls.tenant_id == tid, include_aliases=True))
    if tables is None:
        tables = _tenant_tables_of(statement)
    target = getattr(statement, "table", None) if isinstance(statement, UpdateBase) else None
    if target is not None and target in tables:
        statement = statement.where(target.c.tenant_id == tid)
    for table in tables:
        if table is target:
            continue
        tenant_slice = select(table).where(table.c.tenant_id == tid).subquery(table.name)
        statement = sql_util.ClauseAdapter(tenant_slice).traverse(statement)
    return statement


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
        scope = _scope.get()
        if scope.system:
            return
        # An ORM statement over tenant models (most of them, lazy loads too) needs only the loader criteria:
        # the walk of its FROM tables is for counts over a model and for Core statements over its Table.
        orm_entities = _tenant_models(state)
        tables = [] if orm_entities else _tenant_tables_of(state.statement)
        if not tables and not orm_entities:
            return
        if scope.tenant_id is None:
            raise NoTenantError("tenant-owned data queried with no tenant bound")
        state.statement = scope_statement(state.statement, scope.tenant_id, tables)

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
