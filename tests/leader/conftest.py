"""Fixtures for the leader's pages: the world of leaderhelpers, and a client signed in through the form."""

from __future__ import annotations

import pytest
from leaderhelpers import World, build_world, sign_in


@pytest.fixture
def world(app) -> World:
    """The leader's world, committed."""
    with app.app_context():
        return build_world()


@pytest.fixture
def leader_client(app, client, world):
    """A test client signed in as the world's leader."""
    sign_in(client, world.email)
    return client
