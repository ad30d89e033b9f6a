"""End to end: the reference club-admin simulator pushes a season through the client, over real HTTP on
127.0.0.1, through a proxy that drops connections after the server has done the work (so the client must
retry with the same Idempotency-Key), answers 503 and drops before forwarding. Afterwards the store holds
exactly what the simulator sent: every session, every mark, nothing twice."""

from __future__ import annotations

import datetime as dt

from netutil import FlakyProxy
from sqlalchemy import select

from apn.extensions import db
from apn.models import ActivitySession, Attendance, Group, PartnerPerson
from apn.tenancy import tenant_scope
from integrations.apn_client import ApnClient
from integrations.simulator import ClubSimulator


def _store(app, partner) -> dict:
    """The partner's sessions as stored, in the simulator's terms (codes and the partner's person ids)."""
    with app.app_context(), tenant_scope(partner.tenant_id):
        ext = dict(db.session.execute(select(PartnerPerson.person_id, PartnerPerson.external_id).where(
            PartnerPerson.partner_client_id == partner.partner_id)).all())
        cards = dict(db.session.execute(select(Group.id, Group.partner_card_number)).all())
        out = {}
        sessions = db.session.execute(select(ActivitySession).where(
            ActivitySession.partner_client_id == partner.partner_id)).scalars().all()
        marks: dict[int, list] = {}
        for a in db.session.execute(select(Attendance)).scalars():
            marks.setdefault(a.session_id, []).append(a)
        for s in sessions:
            assert s.channel == "api" and s.association_id == partner.association_id
            parts = {ext[a.person_id]: (a.present, a.disability, a.role == "temporary_leader")
                     for a in marks.get(s.id, []) if a.role != "leader"}
            leads = {ext[a.person_id]: (a.present, a.disability) for a in marks.get(s.id, []) if a.role == "leader"}
            assert len(parts) + len(leads) == len(marks.get(s.id, []))  # nobody twice
            out[s.partner_code] = {
                "date": s.session_date.isoformat(), "start_time": s.start_time.strftime("%H:%M"),
                "stop_time": s.stop_time.strftime("%H:%M"),
                "stop_date": s.stop_date.isoformat() if s.stop_date else None, "type": s.session_type,
                "team_sport": s.team_sport, "card_number": cards[s.group_id],
                "participants": parts, "leaders": leads}
        db.session.remove()
        return out


def test_simulated_season_arrives_exactly_despite_drops_and_retries(app, live, partner):
    # Every 4th request is answered by the server but the answer is lost; a few 503s and early drops too.
    def policy(n: int, line: bytes) -> str:
        if n in (2, 9):
            return "503"
        if n == 13:
            return "drop_before"
        if n % 4 == 3:
            return "drop_after"
        return "forward"

    proxy = FlakyProxy(live.port, policy)
    try:
        client = ApnClient(proxy.url, partner.client_id, partner.secret, backoff=0.01, sleep=lambda s: None,
                           timeout=60)
        sim = ClubSimulator(client, partner.orgnr, seed=7, groups=3, participants_per_group=12, weeks=18,
                            season_start=dt.date(2026, 1, 12), chunk_size=40)
        report = sim.run()
    finally:
        proxy.stop()

    assert report.refused == []
    assert report.requests["bulk"] >= 3 and report.requests["patch"] >= 1 and report.requests["delete_session"] >= 1
    # The network really was bad, and mutating requests were among the lost answers.
    lost = [line for action, line, key in proxy.log if action == "drop_after"]
    assert len(lost) >= 10 and any(line.split()[0] in (b"POST", b"PUT", b"PATCH", b"DELETE") for line in lost
                                   if b"/auth/token" not in line)
    assert proxy.count("503") == 2 and proxy.count("drop_before") == 1
    # Every mutating request that was sent twice carried the same key both times.
    keys = [key for action, line, key in proxy.log if key]
    assert len(keys) > len(set(keys))

    stored = _store(app, partner)
    expected = sim.expected()
    assert set(stored) == set(expected)
    for kod, want in expected.items():
        assert stored[kod] == want, kod
    assert any(s["stop_date"] for s in stored.values())  # the end-of-season session past midnight
    assert any(p[2] for s in stored.values() for p in s["participants"].values())  # a temporary leader
