"""Presets and stored rule sets: a tenant's dated, versioned rule documents.

A tenant created with ``ruleset=PRESET`` gets version 1 of that preset, valid from 2000-01-01 so that
every period has rules. :func:`install_ruleset` stores a new version from a date; it refuses a date that
would change a closed period or one with a decision, so saving new rules never changes a decided period.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from apn.errors import DomainError
from apn.extensions import db
from apn.models import Application, Decision, GrantPeriod, RuleSet
from apn.rules.schema import RuleDocumentError, parse_document
from apn.services.tenants import on_tenant_created
from apn.tenancy import require_tenant_id

PRESET_DIR = Path(__file__).resolve().parent / "presets"
PRESET_VALID_FROM = dt.date(2000, 1, 1)


def preset_names() -> list[str]:
    """The shipped presets, sorted."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.json"))


@cache
def _preset_text(name: str) -> str:
    return (PRESET_DIR / f"{name}.json").read_text(encoding="utf-8")


def load_preset(name: str) -> dict[str, Any]:
    """A preset's document (a fresh copy), or :class:`DomainError` naming the known presets."""
    if name not in preset_names():
        raise DomainError(f"unknown rule preset {name!r}; known presets: {', '.join(preset_names())}",
                          field="ruleset")
    return json.loads(_preset_text(name))


def storable(data: Any) -> Any:
    """A decoded document in JSON-storable form: exact decimals become strings, dates ISO strings."""
    if isinstance(data, dict):
        return {str(k): storable(x) for k, x in data.items()}
    if isinstance(data, list | tuple):
        return [storable(x) for x in data]
    if isinstance(data, Decimal):
        return str(data)
    if isinstance(data, float):
        return str(Decimal(str(data)))
    if isinstance(data, dt.date):
        return data.isoformat()
    return data


def validation_error(exc: RuleDocumentError) -> DomainError:
    """A rule-document error as a 422 naming every path."""
    return DomainError("the rule document is invalid: " + "; ".join(f"{p}: {m}" for p, m in exc.errors),
                       field="document", errors={"json": {"document": [f"{p}: {m}" for p, m in exc.errors]}})


def install_ruleset(document: Any, valid_from: dt.date, *, name: str | None = None, preset: str | None = None,
                    user_id: int | None = None) -> RuleSet:
    """Store a new version of the bound tenant's rules, valid from ``valid_from``.

    The current open-ended version ends the day before. Refused when ``valid_from`` is not after the latest
    version's start, or when it falls in or before a closed period or a period with a decision.
    """
    tenant_id = require_tenant_id()
    try:
        doc = parse_document(document)
    except RuleDocumentError as exc:
        raise validation_error(exc) from None
    latest = db.session.execute(select(RuleSet).where(RuleSet.tenant_id == tenant_id)
                                .order_by(RuleSet.version.desc())).scalars().first()
    if latest is not None and valid_from <= latest.valid_from:
        raise DomainError(f"must be after {latest.valid_from.isoformat()}, the start of version {latest.version}",
                          field="valid_from")
    decided = db.session.execute(
        select(func.max(GrantPeriod.ends_on)).where(
            GrantPeriod.tenant_id == tenant_id,
            (GrantPeriod.status == "closed") | GrantPeriod.id.in_(
                select(Application.period_id).join(Decision, (Decision.tenant_id == Application.tenant_id)
                                                   & (Decision.application_id == Application.id))))).scalar()
    if decided is not None and valid_from <= decided:
        raise DomainError(f"a period up to {decided.isoformat()} is closed or decided; new rules must start "
                          "after it", field="valid_from")
    for old in db.session.execute(select(RuleSet).where(RuleSet.tenant_id == tenant_id, RuleSet.valid_to.is_(None))
                                  ).scalars():
        old.valid_to = valid_from - dt.timedelta(days=1)
    rs = RuleSet(tenant_id=tenant_id, name=(name or doc.name)[:120], version=(latest.version + 1 if latest else 1),
                 valid_from=valid_from, valid_to=None, preset=preset, document=storable(document),
                 created_by_user_id=user_id)
    db.session.add(rs)
    db.session.flush()
    return rs


@on_tenant_created
def install_preset_for_new_tenant(tenant, preset: str | None) -> None:
    """Hook: a tenant created with ``ruleset=PRESET`` gets the preset as version 1."""
    if not preset:
        return
    document = load_preset(preset)
    install_ruleset(document, PRESET_VALID_FROM, preset=preset)
