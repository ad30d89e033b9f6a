"""Fixtures for the clash tests."""

from __future__ import annotations

import pytest
from clashkit import World, make_world

from apn.extensions import db


@pytest.fixture
def world(ctx) -> World:
    """A committed municipality with two associations, their groups and twelve people."""
    w = make_world()
    db.session.commit()
    return w
