"""Setting up municipalities: the tenant, its default periods, home areas and facilities."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from apn.errors import Conflict, DomainError, NotFound
from apn.extensions import db
from apn.models import GrantPeriod, Tenant
from apn.tenancy import system_scope, tenant_scope

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$")

#: Hook so the rule engine can attach a rule set from a preset when a tenant is created.
_on_create: list = []


def on_tenant_created(func):
    """Register ``func(tenant, preset)`` to run when a tenant is created (idempotent)."""
    if func not in _on_create:
        _on_create.append(func)
    return func


def half_year_periods(year: int) -> list[dict]:
    """The default periods of a year: ``YYYYH1`` (deadline 25 Aug) and ``YYYYH2`` (deadline 25 Feb next year)."""
    return [
        {"code": f"{year}H1", "starts_on": dt.date(year, 1, 1), "ends_on": dt.date(year, 6, 30),
         "deadline": dt.date(year, 8, 25)},
        {"code": f"{year}H2", "starts_on": dt.date(year, 7, 1), "ends_on": dt.date(year, 12, 31),
         "deadline": dt.date(year + 1, 2, 25)},
    ]


def ensure_periods(tenant_id: int, years: list[int]) -> list[GrantPeriod]:
    """Create the default half-year periods of ``years`` that do not exist yet."""
    out = []
    with tenant_scope(tenant_id):
        have = set(db.session.execute(select(GrantPeriod.code)).scalars())
        for year in years:
            for p in half_year_periods(year):
                if p["code"] not in have:
                    gp = GrantPeriod(tenant_id=tenant_id, status="open", **p)
                    db.session.add(gp)
                    out.append(gp)
        db.session.flush()
    return out


def create_tenant(slug: str, name: str, kommunkod: str, ruleset: str | None = None,
                  today: dt.date | None = None) -> Tenant:
    """Create a municipality with the default periods of last, this and next year."""
    slug = (slug or "").strip().lower()
    if not SLUG_RE.match(slug):
        raise DomainError("use 3–40 lower-case letters, digits and dashes", field="slug")
    if not (name or "").strip():
        raise DomainError("the name is missing", field="name")
    if not re.fullmatch(r"\d{4}", kommunkod or ""):
        raise DomainError("a municipality code is four digits, e.g. 2480", field="kommunkod")
    with system_scope():
        clash = db.session.execute(select(Tenant).where((Tenant.slug == slug) | (Tenant.kommunkod == kommunkod))
                                   ).scalars().first()
    if clash is not None:
        fld = "slug" if clash.slug == slug else "kommunkod"
        raise Conflict(f"a municipality with this {fld} exists already", field=fld)
    tenant = Tenant(slug=slug, name=name.strip(), kommunkod=kommunkod, ruleset_preset=ruleset, settings={})
    db.session.add(tenant)
    db.session.flush()
    year = (today or dt.date.today()).year
    ensure_periods(tenant.id, [year - 1, year, year + 1])
    for func in _on_create:
        with tenant_scope(tenant.id):
            func(tenant, ruleset)
    return tenant


def get_tenant(slug: str) -> Tenant:
    """The tenant with this slug, or :class:`NotFound`."""
    tenant = db.session.execute(select(Tenant).where(Tenant.slug == slug)).scalar_one_or_none()
    if tenant is None:
        raise NotFound(f"unknown municipality {slug!r}", field="tenant")
    return tenant
