"""Helpers for the gateway tests: valid request bodies and setup calls through the API."""

from __future__ import annotations

import datetime as dt

from .conftest import Partner


def session_body(card: str = "1", date: str | None = None, n_participants: int = 3, orgnr: str | None = None,
                 partner: Partner | None = None, **over) -> dict:
    """A valid session body with inline people (no earlier PUTs needed)."""
    day = date or (dt.date.today() - dt.timedelta(days=3)).isoformat()
    body = {
        "organisationsnummer": orgnr or (partner.orgnr if partner else None), "card_number": card,
        "date": day, "start_time": "18:00", "stop_time": "19:30", "type": "Traening", "activity": "Fotboll",
        "participants": [{"person_id": f"kid-{i}", "first_name": "Kid", "last_name": f"Nr{i}",
                          "birth_date": f"2012-01-{i % 28 + 1:02d}", "sex": "F" if i % 2 else "M",
                          "present": True} for i in range(n_participants)],
        "leaders": [{"person_id": "leader-1", "first_name": "Lea", "last_name": "Der",
                     "birth_date": "1980-03-03", "present": True}],
    }
    body.update(over)
    return body


def put_group(client, p: Partner, card: str = "1", name: str = "P13") -> None:
    """Create the partner's attendance card."""
    r = client.put(f"/api/v1/associations/{p.orgnr}/groups/{card}", json={"name": name}, headers=p.headers)
    assert r.status_code in (200, 201), r.get_json()
