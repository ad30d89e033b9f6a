"""The app (PWA) over the test client: the sync endpoint's idempotency, its errors, the manifest, the service
worker, the icons and the attendance page's weight."""

from __future__ import annotations

import datetime as dt
import json
import re
import struct

from sqlalchemy import func, select

from apn.extensions import db
from apn.models import ActivitySession, Attendance, IdempotencyKey, Person
from apn.tenancy import tenant_scope

TODAY = dt.date.today()


def _body(world, **kw) -> dict:
    body = {"group_id": world.group_id, "date": (TODAY - dt.timedelta(days=1)).isoformat(), "start": "18:00",
            "stop": "19:30", "facility_id": world.facility_id, "session_type": "Traening",
            "present": world.participant_ids[:2], "leaders": [world.leader_id], "temporary_leaders": [],
            "disabled": [world.participant_ids[1]], "new_people": [], "taken_at": "2025-03-04T18:05:00Z"}
    body.update(kw)
    return body


def _post(client, world, body, key="k-0000000001", raw=None):
    return client.post(f"/k/{world.slug}/app/sessions", data=raw or json.dumps(body),
                       headers={"Idempotency-Key": key, "Accept": "application/json",
                                "Content-Type": "application/json"})


def _count(app, world, model=ActivitySession) -> int:
    with app.app_context(), tenant_scope(world.tenant_id):
        return db.session.scalar(select(func.count()).select_from(model))


def test_a_repeated_key_is_replayed_and_never_doubles_the_session(app, leader_client, world):
    raw = json.dumps(_body(world))
    first = _post(leader_client, world, None, raw=raw)
    assert first.status_code == 201, first.get_data(as_text=True)
    data = first.get_json()
    assert data["action"] == "created" and data["url"].endswith(f"/leader/sessions/{data['session_id']}")
    assert data["verdict"]["facts"] == ["2 deltagare", "1 ledare", "90 minuter"]
    again = _post(leader_client, world, None, raw=raw)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == data
    assert _count(app, world) == 1
    with app.app_context(), tenant_scope(world.tenant_id):
        s = db.session.execute(select(ActivitySession)).scalar_one()
        assert (s.channel, s.reported_by_user_id) == ("app", world.user_id)
        key = db.session.execute(select(IdempotencyKey)).scalar_one()
        assert key.actor == f"user:{world.user_id}" and key.response_status == 201
        marks = dict(db.session.execute(select(Attendance.person_id, Attendance.disability)).all())
        assert marks == {world.participant_ids[0]: False, world.participant_ids[1]: True, world.leader_id: False}
    # A new key is a new attendance.
    assert _post(leader_client, world, _body(world, start="20:00", stop="21:00"), key="k-0000000002").status_code == 201
    assert _count(app, world) == 2


def test_a_key_used_for_another_body_is_refused(app, leader_client, world):
    assert _post(leader_client, world, _body(world)).status_code == 201
    resp = _post(leader_client, world, _body(world, stop="20:00"))
    assert resp.status_code == 422
    assert resp.get_json()["errors"] == {"headers": {"Idempotency-Key": ["already used for another request"]}}
    assert _count(app, world) == 1


def test_the_key_is_required(app, leader_client, world):
    resp = _post(leader_client, world, _body(world), key="")
    assert resp.status_code == 400 and "Idempotency-Key" in resp.get_json()["message"]
    assert _count(app, world) == 0


def test_refusals_are_specific_stored_and_write_nothing(app, leader_client, world):
    bad = _body(world, new_people=[{"first_name": "Ny", "last_name": "Person", "birth_date": "2013-01-01"},
                                   {"personnummer": "201301011234"}])
    resp = _post(leader_client, world, bad)
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["message"] == "Personnumret för den tillagda deltagaren är inte giltigt."
    assert _count(app, world) == 0
    assert _count(app, world, Person) == 5  # the valid new person was not kept either
    replay = _post(leader_client, world, bad)
    assert replay.status_code == 422 and replay.headers["Idempotent-Replayed"] == "true"
    resp = _post(leader_client, world, {"group_id": world.group_id, "date": "2025-13-01"}, key="k-bad-json-1")
    assert resp.status_code == 422
    assert set(resp.get_json()["errors"]["json"]) == {"date", "start", "stop"}


def test_the_sync_needs_a_signed_in_leader_with_rights(app, client, leader_client, world):
    anonymous = app.test_client()
    resp = _post(anonymous, world, _body(world))
    assert resp.status_code == 401 and resp.is_json
    assert anonymous.get(f"/k/{world.slug}/app/csrf").status_code == 401
    resp = _post(leader_client, world, _body(world, group_id=world.other_group_id))
    assert resp.status_code == 403 and resp.is_json
    assert _count(app, world) == 0
    token = leader_client.get(f"/k/{world.slug}/app/csrf")
    assert token.status_code == 200 and token.headers["Cache-Control"] == "no-store"
    assert len(token.get_json()["csrf_token"]) > 20


def test_manifest_service_worker_and_icons(client, world):
    resp = client.get(f"/k/{world.slug}/app/manifest.webmanifest")
    assert resp.mimetype == "application/manifest+json"
    manifest = resp.get_json(force=True)
    assert manifest["start_url"] == f"/k/{world.slug}/leader/" and manifest["scope"] == f"/k/{world.slug}/"
    assert manifest["display"] == "standalone" and manifest["lang"] == "sv"
    sizes = set()
    for icon in manifest["icons"]:
        img = client.get(icon["src"])
        assert img.status_code == 200, icon["src"]
        data = img.get_data()
        img.close()
        if icon["type"] == "image/png":
            assert data[:8] == b"\x89PNG\r\n\x1a\n"
            w, h = struct.unpack(">II", data[16:24])
            assert f"{w}x{h}" == icon["sizes"]
            sizes.add(w)
    assert {192, 512} <= sizes
    sw = client.get(f"/k/{world.slug}/app/sw.js")
    assert sw.mimetype == "text/javascript" and sw.headers["Service-Worker-Allowed"] == f"/k/{world.slug}/"
    text = sw.get_data(as_text=True)
    assert "__VERSION__" not in text and '"/static/app/app.js"' in text


def _assets(client, html: str) -> list[bytes]:
    urls = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html) + re.findall(r'<script src="([^"]+)"', html)
    assert any(u.endswith(".css") for u in urls) and any(u.endswith(".js") for u in urls)
    out = []
    for url in urls:
        resp = client.get(url)
        assert resp.status_code == 200, url
        out.append(resp.get_data())
        resp.close()
    return out


def test_the_attendance_page_weighs_at_most_150_kb_and_loads_nothing_from_elsewhere(leader_client, world):
    html = leader_client.get(f"/k/{world.slug}/leader/groups/{world.group_id}").get_data(as_text=True)
    assets = _assets(leader_client, html)
    total = len(html.encode()) + sum(len(a) for a in assets)
    assert total <= 150 * 1024, total
    for text in [html] + [a.decode() for a in assets]:
        assert not re.search(r"https?://", text), "no external URLs"
