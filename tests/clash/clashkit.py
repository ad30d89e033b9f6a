"""Helpers for the clash tests: a small municipality, session commands, reporting through the intake."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from apn.extensions import db
from apn.intake import AttendanceMark, PersonRef, SessionCommand, ingest
from apn.tenancy import tenant_scope
from apn.testing import factories as f

DAY = dt.date(2025, 3, 12)


@dataclass
class World:
    """One municipality: associations ``a`` and ``b`` with a group each (``ga``, ``ga2``, ``gb``), people."""

    tenant: object
    a: object
    b: object
    ga: object
    ga2: object
    gb: object
    people: list = field(default_factory=list)


def make_world(n_people: int = 12, slug: str | None = None, kommunkod: str | None = None) -> World:
    """Build a :class:`World` (flushed)."""
    t = f.create_tenant(slug=slug, kommunkod=kommunkod)
    a = f.create_association(t, name="IFK Norr")
    b = f.create_association(t, name="Scoutkåren Syd")
    ga = f.create_group(t, a, name="P13")
    ga2 = f.create_group(t, a, name="P14")
    gb = f.create_group(t, b, name="Tisdagsscouter")
    people = [f.create_person(t, birth=dt.date(2012, 1 + i % 12, 1 + i)) for i in range(n_people)]
    return World(t, a, b, ga, ga2, gb, people)


def command(group, date=DAY, start="18:00", stop="19:00", participants=(), leaders=(), channel="web",
            stop_date=None, method="add", code=None, absent=(), refs=None) -> SessionCommand:
    """A session command for ``group`` with people given as Person objects (or explicit PersonRefs)."""
    marks = [AttendanceMark(PersonRef(person_id=p.id), "participant", present=p not in absent) for p in participants]
    marks += [AttendanceMark(PersonRef(person_id=p.id), "leader", present=p not in absent) for p in leaders]
    marks += [AttendanceMark(r, "participant") for r in refs or ()]
    return SessionCommand(
        association_id=group.association_id, group_id=group.id, session_date=date,
        start_time=dt.time.fromisoformat(start) if start else None,
        stop_time=dt.time.fromisoformat(stop) if stop else None, stop_date=stop_date, channel=channel,
        method=method, partner_code=code, attendance=marks)


def report(tenant, *commands, commit: bool = True):
    """Ingest commands for ``tenant`` and commit; returns the IntakeResult."""
    with tenant_scope(tenant.id):
        result = ingest(list(commands))
    if commit:
        db.session.commit()
    assert not result.refused, result.refused
    return result
