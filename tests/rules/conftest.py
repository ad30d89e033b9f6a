"""Helpers for the rule-engine tests: a municipality on a preset with people of given ages."""

from __future__ import annotations

import datetime as dt

import pytest

from apn.extensions import db
from apn.rules import evaluate, isolated_registries
from apn.services.tenants import ensure_periods
from apn.testing import factories as f

YEAR = 2025


class World:
    """A municipality on ``preset`` with periods of 2024–2025, one association and one group."""

    def __init__(self, preset: str | None, disability_association: bool = False) -> None:
        self.tenant = f.create_tenant(ruleset=preset)
        ensure_periods(self.tenant.id, [YEAR - 1, YEAR])
        self.assoc, self.group = self.association(disability_association)

    def association(self, disability_association: bool = False):
        """Another association with one group."""
        a = f.create_association(self.tenant, disability_association=disability_association)
        return a, f.create_group(self.tenant, a)

    def person(self, age: int, female: bool = False, birth: dt.date | None = None):
        """A person whose age in 2025 (2025 − birth year) is ``age``; born 15 June unless ``birth``."""
        return f.create_person(self.tenant, birth or dt.date(YEAR - age, 6, 15), female=female)

    def session(self, date: dt.date, start: str = "18:00", stop: str = "19:00", participants=(), leaders=(),
                temporary_leaders=(), disabled=(), group=None, stop_date=None, session_type: str = "Traening") -> int:
        """Report a session through the intake; returns its id."""
        res = f.report_session(self.tenant, group or self.group, date, start, stop, participants=participants,
                               leaders=leaders, temporary_leaders=temporary_leaders, disabled=disabled,
                               stop_date=stop_date, session_type=session_type)
        assert not res.refused, res.refused
        return res.accepted[0].session_id

    def evaluate(self, period: str = f"{YEAR}H1", association=None):
        """Evaluate a period (commits first so PostgreSQL sees the same as SQLite)."""
        db.session.commit()
        return evaluate(self.tenant.id, period, association.id if association is not None else None)


@pytest.fixture
def world(ctx):
    """Factory of worlds, with the rule registries isolated."""
    with isolated_registries():
        yield World
