"""Factories for tests and benchmarks: small functions that build valid domain objects.

Each takes keyword arguments for what a test cares about and fills the rest with valid values.
They flush and leave the commit to the caller.
"""

from __future__ import annotations

import datetime as dt
import itertools

from apn.extensions import db
from apn.identity import encrypt_pnr, luhn_digit, parse_personnummer, pnr_hash
from apn.intake import AttendanceMark, PersonRef, SessionCommand, ingest
from apn.models import Facility, Group, GroupMember, HomeArea, Person, Tenant
from apn.services.associations import create_association as _create_association
from apn.services.tenants import create_tenant as _create_tenant
from apn.tenancy import system_scope, tenant_scope

_seq = itertools.count(1)


def make_pnr(birth: dt.date, serial: int = 1, female: bool = False) -> str:
    """A valid 12-digit personal number for a birth date; the serial picks the digits before the check."""
    base = serial % 100
    sex_digit = (serial // 100) % 5 * 2 + (0 if female else 1)
    nine = f"{birth:%y%m%d}{base:02d}{sex_digit}"
    return f"{birth:%Y%m%d}{base:02d}{sex_digit}{luhn_digit(nine)}"


def make_orgnr(n: int) -> str:
    """A valid organisation number (ten digits) built from ``n``."""
    nine = f"802{n:06d}"
    return nine + luhn_digit(nine)


def create_tenant(slug: str | None = None, kommunkod: str | None = None, name: str | None = None,
                  ruleset: str | None = None) -> Tenant:
    """A municipality with default periods."""
    n = next(_seq)
    with system_scope():
        return _create_tenant(slug or f"kommun-{n}", name or f"Kommun {n}", kommunkod or f"{9000 + n % 999:04d}",
                              ruleset)


def create_association(tenant: Tenant, name: str | None = None, orgnr: str | None = None, **kw):
    """An association in ``tenant``."""
    n = next(_seq)
    with tenant_scope(tenant.id):
        return _create_association(name or f"Förening {n}", orgnr or make_orgnr(n), **kw)


def create_home_area(tenant: Tenant, code: str = "2480R001", name: str = "Centrum", version: str = "RegSO 2025"):
    """A home area."""
    with tenant_scope(tenant.id):
        area = HomeArea(tenant_id=tenant.id, code=code, name=name, version=version)
        db.session.add(area)
        db.session.flush()
        return area


def create_facility(tenant: Tenant, name: str | None = None, home_area: HomeArea | None = None):
    """A facility."""
    with tenant_scope(tenant.id):
        fac = Facility(tenant_id=tenant.id, name=name or f"Hall {next(_seq)}",
                       home_area_id=home_area.id if home_area else None)
        db.session.add(fac)
        db.session.flush()
        return fac


def create_group(tenant: Tenant, association, name: str | None = None, facility=None, **kw) -> Group:
    """A group (attendance card) of ``association``."""
    with tenant_scope(tenant.id):
        g = Group(tenant_id=tenant.id, association_id=association.id, name=name or f"Grupp {next(_seq)}",
                  main_facility_id=facility.id if facility else None, **kw)
        db.session.add(g)
        db.session.flush()
        return g


def create_person(tenant: Tenant, birth: dt.date = dt.date(2012, 5, 17), female: bool = False,
                  with_pnr: bool = True, first_name: str = "Test", last_name: str | None = None,
                  home_area=None) -> Person:
    """A person, with a valid personal number unless ``with_pnr`` is False."""
    n = next(_seq)
    with tenant_scope(tenant.id):
        if with_pnr:
            pn = parse_personnummer(make_pnr(birth, n, female))
            p = Person(tenant_id=tenant.id, first_name=first_name, last_name=last_name or f"Person{n}",
                       birth_date=pn.birth_date, sex=pn.sex, pnr_hash=pnr_hash(pn.number),
                       pnr_encrypted=encrypt_pnr(pn.number))
        else:
            p = Person(tenant_id=tenant.id, first_name=first_name, last_name=last_name or f"Person{n}",
                       birth_date=birth, sex="F" if female else "M")
        if home_area is not None:
            p.home_area_id = home_area.id
        db.session.add(p)
        db.session.flush()
        return p


def add_to_roster(tenant: Tenant, group: Group, person: Person, role: str = "participant") -> None:
    """Put a person on a group's roster."""
    with tenant_scope(tenant.id):
        db.session.add(GroupMember(tenant_id=tenant.id, group_id=group.id, person_id=person.id, role=role))
        db.session.flush()


def report_session(tenant: Tenant, group: Group, date: dt.date, start: str = "18:00", stop: str = "19:30",
                   participants=(), leaders=(), temporary_leaders=(), disabled=(), channel: str = "web",
                   stop_date: dt.date | None = None, **kw):
    """Report a session through the one intake; returns the :class:`IntakeResult`."""
    marks = [AttendanceMark(PersonRef(person_id=p.id), "participant", disability=p in disabled)
             for p in participants]
    marks += [AttendanceMark(PersonRef(person_id=p.id), "leader") for p in leaders]
    marks += [AttendanceMark(PersonRef(person_id=p.id), "temporary_leader") for p in temporary_leaders]
    cmd = SessionCommand(association_id=group.association_id, group_id=group.id, session_date=date,
                         start_time=dt.time.fromisoformat(start), stop_time=dt.time.fromisoformat(stop),
                         stop_date=stop_date, channel=channel, attendance=marks, **kw)
    with tenant_scope(tenant.id):
        return ingest([cmd])
