"""Idempotency-Key: a repeat replays the first answer and writes nothing; another body with the key is 422."""

from __future__ import annotations

from sqlalchemy import func, select

from apn.extensions import db
from apn.models import ActivitySession, IdempotencyKey
from apn.tenancy import tenant_scope

from .gateway_helpers import put_group, session_body


def _count(app, partner, model) -> int:
    with app.app_context(), tenant_scope(partner.tenant_id):
        return db.session.scalar(select(func.count()).select_from(model))


def test_replay_returns_the_first_response_and_writes_once(app, client, partner):
    put_group(client, partner, "1")
    body = {"sessions": [{**session_body(partner=partner), "kod": "I-1"}]}
    headers = {**partner.headers, "Idempotency-Key": "batch-0001"}
    first = client.post("/api/v1/sessions/bulk", json=body, headers=headers)
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers
    again = client.post("/api/v1/sessions/bulk", json=body, headers=headers)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert first.get_json()["accepted"][0]["action"] == "created"
    assert _count(app, partner, ActivitySession) == 1
    # Without the key the same body is a new request: the session is replaced.
    third = client.post("/api/v1/sessions/bulk", json=body, headers=partner.headers)
    assert third.get_json()["accepted"][0]["action"] == "replaced"


def test_same_key_with_another_body_is_422(client, partner):
    put_group(client, partner, "1")
    headers = {**partner.headers, "Idempotency-Key": "k-1"}
    r = client.put("/api/v1/sessions/I-2", json=session_body(partner=partner), headers=headers)
    assert r.status_code == 201
    r = client.put("/api/v1/sessions/I-2", json=session_body(partner=partner, stop_time="20:00"), headers=headers)
    assert r.status_code == 422 and "Idempotency-Key" in r.get_json()["errors"]["headers"]
    r = client.put("/api/v1/sessions/I-3", json=session_body(partner=partner), headers=headers)
    assert r.status_code == 422


def test_replay_of_delete_and_status_201(app, client, partner):
    put_group(client, partner, "1")
    headers = {**partner.headers, "Idempotency-Key": "create-I-4"}
    r1 = client.put("/api/v1/sessions/I-4", json=session_body(partner=partner), headers=headers)
    r2 = client.put("/api/v1/sessions/I-4", json=session_body(partner=partner), headers=headers)
    assert r1.status_code == r2.status_code == 201 and r2.headers["Idempotent-Replayed"] == "true"
    dh = {**partner.headers, "Idempotency-Key": "delete-I-4"}
    assert client.delete("/api/v1/sessions/I-4", headers=dh).status_code == 204
    replay = client.delete("/api/v1/sessions/I-4", headers=dh)
    assert replay.status_code == 204 and replay.headers["Idempotent-Replayed"] == "true"


def test_failed_requests_are_not_remembered_and_keys_are_per_partner(app, client, partner):
    headers = {**partner.headers, "Idempotency-Key": "k-2"}
    r = client.put("/api/v1/sessions/I-5", json=session_body(partner=partner), headers=headers)
    assert r.status_code == 422  # no such card yet
    put_group(client, partner, "1")
    r = client.put("/api/v1/sessions/I-5", json=session_body(partner=partner), headers=headers)
    assert r.status_code == 201
    with app.app_context(), tenant_scope(partner.tenant_id):
        row = db.session.execute(select(IdempotencyKey)).scalar_one()
        assert row.actor == f"partner:{partner.partner_id}" and row.key == "k-2" and row.response_status == 201


def test_malformed_key_is_400(client, partner):
    r = client.put("/api/v1/sessions/I-6", json=session_body(partner=partner),
                   headers={**partner.headers, "Idempotency-Key": "x" * 201})
    assert r.status_code == 400 and "Idempotency-Key" in r.get_json()["errors"]["headers"]
