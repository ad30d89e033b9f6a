"""The app starts, serves its start page and the OpenAPI document, and the intake stores a session."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from apn.extensions import db
from apn.models import ActivitySession, Attendance
from apn.tenancy import tenant_scope
from apn.testing import factories as f


def test_start_page_lists_municipalities(ctx, client):
    f.create_tenant(slug="umea", name="Umeå kommun", kommunkod="2480")
    db.session.commit()
    html = client.get("/").get_data(as_text=True)
    assert "Umeå kommun" in html
    assert "/api/v1/openapi.json" in html
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")


def test_intake_stores_session_and_attendance(ctx):
    t = f.create_tenant()
    a = f.create_association(t)
    g = f.create_group(t, a)
    kids = [f.create_person(t, dt.date(2012, 1, i + 1)) for i in range(3)]
    leader = f.create_person(t, dt.date(1980, 3, 3))
    res = f.report_session(t, g, dt.date(2025, 3, 4), participants=kids, leaders=[leader])
    assert not res.refused
    assert res.participations == 3 and res.leader_participations == 1
    db.session.commit()
    with tenant_scope(t.id):
        assert db.session.scalar(select(func.count()).select_from(ActivitySession)) == 1
        assert db.session.scalar(select(func.count()).select_from(Attendance)) == 4


def test_swedish_by_default_english_on_request(client):
    assert "Aktivitetsstöd för föreningar" in client.get("/").get_data(as_text=True)
    assert "Activity grant for associations" in client.get("/?lang=en").get_data(as_text=True)
