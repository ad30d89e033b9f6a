"""Helpers for the association web UI tests (a unique module name, importable from the tests)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from apn.services import accounts
from apn.tenancy import tenant_scope

PASSWORD = "correct horse battery"


@dataclass
class World:
    """Ids of what a test works with (plain values, usable outside the app context)."""

    tenant_id: int
    slug: str
    association_id: int
    group_ids: list[int]
    admin_email: str
    other_tenant_id: int
    other_slug: str
    other_association_id: int
    other_group_id: int



def make_user(tenant, email: str, role: str | None = None, password: str = PASSWORD, **scope):
    """A user with a password and, optionally, one role in ``tenant``."""
    user = accounts.create_user(email, email.split("@")[0].title(), password)
    if role:
        with tenant_scope(tenant.id):
            accounts.grant_role(user, role, **scope)
    return user



def sign_in(client, email: str, password: str = PASSWORD):
    """Sign in through the form; returns the response."""
    return client.post("/login", data={"email": email, "password": password})


def outbox(app) -> list[dict]:
    """Mail sent while testing."""
    return app.extensions.setdefault("apn_mail_outbox", [])


def link_in(body: str) -> str:
    """The path of the first link in a mail body."""
    m = re.search(r"https?://[^/\s]+(/\S+)", body)
    assert m, body
    return m.group(1)
