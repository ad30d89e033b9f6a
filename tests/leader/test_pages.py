"""The leader's pages over the test client: groups, the attendance form, saving through the intake, the
result in plain words, editing and deleting until the period report is submitted."""

from __future__ import annotations

import datetime as dt
import re

from leaderhelpers import build_world, sign_in
from sqlalchemy import func, select

from apn.extensions import db
from apn.models import ActivitySession, Application, Attendance, GrantPeriod, Person
from apn.tenancy import tenant_scope
from apn.testing import factories as f

LAST_TUESDAY = dt.date.today() - dt.timedelta(days=(dt.date.today().weekday() - 1) % 7 or 7)


def _form(world, **kw):
    data = {"date": LAST_TUESDAY.isoformat(), "start": "18:00", "stop": "19:30", "facility": str(world.facility_id),
            "type": "Traening", "p": [str(i) for i in world.participant_ids[:3]], "l": [str(world.leader_id)],
            "new_pnr": [""], "new_first": [""], "new_last": [""], "new_birth": [""], "new_sex": [""]}
    data.update(kw)
    return data


def _sessions(app, world):
    with app.app_context(), tenant_scope(world.tenant_id):
        rows = db.session.execute(select(ActivitySession)).scalars().all()
        return [(s.id, s.channel, s.session_date, s.reported_by_user_id) for s in rows]


def _attendance(app, world, sid):
    with app.app_context(), tenant_scope(world.tenant_id):
        rows = db.session.execute(select(Attendance.person_id, Attendance.role, Attendance.disability)
                                  .where(Attendance.session_id == sid)).all()
        return {r.person_id: (r.role, r.disability) for r in rows}


def test_home_lists_only_the_groups_the_leader_reports_for(leader_client, world):
    html = leader_client.get(f"/k/{world.slug}/leader/").get_data(as_text=True)
    assert "P13 fotboll" in html
    assert "F15 fotboll" not in html
    assert f"/k/{world.slug}/leader/groups/{world.group_id}" in html
    # The tenant-less entry point finds the one municipality.
    resp = leader_client.get("/my-groups")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/k/{world.slug}/leader/")


def test_attendance_page_is_prefilled_from_the_usual_slot(leader_client, world):
    resp = leader_client.get(f"/k/{world.slug}/leader/groups/{world.group_id}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert f'value="{dt.date.today().isoformat()}"' in html
    assert 'value="18:00"' in html and 'value="19:30"' in html
    assert f'<option value="{world.facility_id}" selected>Sporthallen</option>' in html
    for name in ("Alva Berg", "Bo Berg", "Cleo Berg", "Dan Berg", "Lena Ledare"):
        assert name in html
    # Every checkbox and input has a label.
    for input_id in re.findall(r'<input[^>]* id="([^"]+)"', html):
        assert f'for="{input_id}"' in html, input_id
    assert "Närvaro" in html  # Swedish by default
    assert not re.search(r'(src|href)="(https?:)?//', html), "nothing may come from another host"


def test_saving_the_form_goes_through_the_intake_and_shows_the_result(app, leader_client, world):
    kid = world.participant_ids[0]
    data = _form(world, tl=[str(kid)], dis=[str(world.participant_ids[1])], new_first=["Nora"], new_last=["Ny"],
                 new_birth=["2013-02-02"], new_sex=["F"], new_pnr=[""])
    resp = leader_client.post(f"/k/{world.slug}/leader/groups/{world.group_id}", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    [(sid, channel, date, user_id)] = _sessions(app, world)
    assert (channel, date, user_id) == ("web", LAST_TUESDAY, world.user_id)
    assert resp.headers["Location"].endswith(f"/k/{world.slug}/leader/sessions/{sid}")
    att = _attendance(app, world, sid)
    assert att[kid] == ("temporary_leader", False)
    assert att[world.participant_ids[1]] == ("participant", True)
    assert att[world.leader_id] == ("leader", False)
    assert len(att) == 5  # three marked, the leader and the added participant
    with app.app_context(), tenant_scope(world.tenant_id):
        nora = db.session.execute(select(Person).where(Person.first_name == "Nora")).scalar_one()
        assert att[nora.id] == ("participant", False) and nora.pnr_hash is None
    html = leader_client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Sparad" in html
    assert "3 deltagare" in html and "2 ledare" in html and "90 minuter" in html


def test_a_personal_number_adds_a_participant(app, leader_client, world):
    pnr = f.make_pnr(dt.date(2011, 6, 6), 7)
    resp = leader_client.post(f"/k/{world.slug}/leader/groups/{world.group_id}",
                              data=_form(world, p=[], new_pnr=[pnr]))
    assert resp.status_code == 302
    [(sid, *_)] = _sessions(app, world)
    with app.app_context(), tenant_scope(world.tenant_id):
        person = db.session.execute(select(Person).where(Person.birth_date == dt.date(2011, 6, 6))).scalar_one()
        assert person.pnr_hash is not None
    assert _attendance(app, world, sid)[person.id] == ("participant", False)


def test_several_new_participants_in_one_save(app, leader_client, world):
    pnr = f.make_pnr(dt.date(2011, 6, 6), 7)
    data = _form(world, new_pnr=["", pnr, ""], new_first=["Nora", "", ""], new_last=["Ny", "", ""],
                 new_birth=["2013-02-02", "", ""], new_sex=["F", "", ""], new_dis=["1"], new_tl=["0"])
    resp = leader_client.post(f"/k/{world.slug}/leader/groups/{world.group_id}", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    [(sid, *_)] = _sessions(app, world)
    with app.app_context(), tenant_scope(world.tenant_id):
        nora = db.session.execute(select(Person).where(Person.first_name == "Nora")).scalar_one()
        other = db.session.execute(select(Person).where(Person.birth_date == dt.date(2011, 6, 6))).scalar_one()
    att = _attendance(app, world, sid)
    assert att[nora.id] == ("temporary_leader", False)
    assert att[other.id] == ("participant", True)
    assert len(att) == 6


def test_a_refused_new_participant_keeps_what_was_typed(app, leader_client, world):
    data = _form(world, new_pnr=["", ""], new_first=["Nora", "Utan"], new_last=["Ny", "Datum"],
                 new_birth=["2013-02-02", ""], new_sex=["F", ""], new_tl=["0"])
    resp = leader_client.post(f"/k/{world.slug}/leader/groups/{world.group_id}", data=data)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    # Both entries come back filled in, the second one marked, plus an empty one for the next participant.
    assert 'id="f-new-first-0" name="new_first" autocomplete="off" value="Nora"' in html
    assert 'id="f-new-first-1" name="new_first" autocomplete="off" value="Utan"' in html
    assert 'id="f-new-tl-0" name="new_tl" value="0" checked' in html
    assert 'id="f-new-pnr-1" name="new_pnr"' in html and 'id="new_1-error"' in html
    assert 'href="#f-new-pnr-1"' in html
    assert 'id="f-new-first-2" name="new_first" autocomplete="off" value=""' in html
    assert _sessions(app, world) == []


def test_mistakes_are_explained_and_nothing_is_written(app, leader_client, world):
    resp = leader_client.post(f"/k/{world.slug}/leader/groups/{world.group_id}",
                              data=_form(world, stop="17:00"))
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'role="alert"' in html
    assert "Sluttiden måste vara efter starttiden." in html
    assert 'aria-invalid="true" aria-describedby="stop-error"' in html
    resp = leader_client.post(f"/k/{world.slug}/leader/groups/{world.group_id}",
                              data=_form(world, new_pnr=["201106061234"]))
    assert resp.status_code == 422
    assert "personnummer" in resp.get_data(as_text=True)
    resp = leader_client.post(f"/k/{world.slug}/leader/groups/{world.group_id}",
                              data=_form(world, new_first=["Utan"], new_last=["Datum"]))
    assert resp.status_code == 422
    assert _sessions(app, world) == []
    with app.app_context(), tenant_scope(world.tenant_id):
        assert db.session.scalar(select(func.count()).select_from(Person)) == 5


def test_a_session_past_midnight_ends_the_next_day(app, leader_client, world):
    resp = leader_client.post(f"/k/{world.slug}/leader/groups/{world.group_id}",
                              data=_form(world, start="23:00", stop="00:30"))
    assert resp.status_code == 302
    with app.app_context(), tenant_scope(world.tenant_id):
        s = db.session.execute(select(ActivitySession)).scalar_one()
        assert s.stop_date == LAST_TUESDAY + dt.timedelta(days=1) and s.duration_minutes == 90


def test_only_roster_people_can_be_marked(app, leader_client, world):
    with app.app_context():
        from apn.models import Tenant

        t = db.session.get(Tenant, world.tenant_id)
        stranger = f.create_person(t, first_name="Främling").id
        db.session.commit()
    resp = leader_client.post(f"/k/{world.slug}/leader/groups/{world.group_id}",
                              data=_form(world, p=[str(stranger)]))
    assert resp.status_code == 422
    assert _sessions(app, world) == []


def test_other_groups_are_forbidden_and_other_municipalities_not_found(app, leader_client, world):
    assert leader_client.get(f"/k/{world.slug}/leader/groups/{world.other_group_id}").status_code == 403
    assert leader_client.post(f"/k/{world.slug}/leader/groups/{world.other_group_id}",
                              data=_form(world)).status_code == 403
    with app.app_context():
        other = build_world(slug="goteborg", kommunkod="1480", email="other@example.org")
    # The other municipality's group, through this municipality's address, and through its own.
    assert leader_client.get(f"/k/{world.slug}/leader/groups/{other.group_id}").status_code == 404
    assert leader_client.get(f"/k/goteborg/leader/groups/{other.group_id}").status_code == 403
    assert leader_client.get("/k/nowhere/leader/").status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client, world):
    resp = client.get(f"/k/{world.slug}/leader/groups/{world.group_id}")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_edit_and_delete_own_report_until_the_period_report_is_submitted(app, leader_client, world):
    base = f"/k/{world.slug}/leader"
    leader_client.post(f"{base}/groups/{world.group_id}", data=_form(world))
    [(sid, *_)] = _sessions(app, world)
    html = leader_client.get(f"{base}/sessions/{sid}/edit").get_data(as_text=True)
    assert 'checked' in html and "Spara ändringarna" in html
    resp = leader_client.post(f"{base}/sessions/{sid}/edit",
                              data=_form(world, p=[str(world.participant_ids[3])], stop="20:00"))
    assert resp.status_code == 302
    assert [s[0] for s in _sessions(app, world)] == [sid]
    assert set(_attendance(app, world, sid)) == {world.participant_ids[3], world.leader_id}

    # Another leader cannot see or change it.
    with app.app_context():
        from apn.models import User
        from apn.services import accounts

        other = accounts.create_user("second@example.org", "Sam", "correct horse battery")
        with tenant_scope(world.tenant_id):
            accounts.grant_role(other, "reporter", group_id=world.group_id)
        db.session.commit()
        assert db.session.get(User, other.id) is not None
    second = app.test_client()
    sign_in(second, "second@example.org")
    assert second.get(f"{base}/sessions/{sid}").status_code == 404
    assert second.post(f"{base}/sessions/{sid}/delete").status_code == 404

    # Once the association has submitted the period report, the report is locked.
    with app.app_context(), tenant_scope(world.tenant_id):
        period = db.session.execute(select(GrantPeriod).where(GrantPeriod.starts_on <= LAST_TUESDAY,
                                                              GrantPeriod.ends_on >= LAST_TUESDAY)).scalar_one()
        db.session.add(Application(tenant_id=world.tenant_id, association_id=world.association_id,
                                   period_id=period.id, status="submitted"))
        db.session.commit()
    html = leader_client.get(f"{base}/sessions/{sid}").get_data(as_text=True)
    assert "inskickad" in html or "skickat in" in html
    assert f"{base}/sessions/{sid}/edit" not in html
    resp = leader_client.post(f"{base}/sessions/{sid}/delete", follow_redirects=True)
    assert "kan inte längre ändras" in resp.get_data(as_text=True)
    assert len(_sessions(app, world)) == 1

    with app.app_context(), tenant_scope(world.tenant_id):
        db.session.execute(Application.__table__.delete().where(Application.tenant_id == world.tenant_id))
        db.session.commit()
    resp = leader_client.post(f"{base}/sessions/{sid}/delete")
    assert resp.status_code == 302
    assert _sessions(app, world) == []


def test_english_on_request(leader_client, world):
    leader_client.get("/lang/en")
    html = leader_client.get(f"/k/{world.slug}/leader/groups/{world.group_id}").get_data(as_text=True)
    assert "Participants present" in html and "Save attendance" in html


def test_the_result_says_in_plain_words_why_a_session_does_not_count(app, client):
    with app.app_context():
        world = build_world(ruleset="goteborg")  # ≥ 60 minutes, ≥ 3 eligible participants, a leader
    sign_in(client, world.email)
    url = f"/k/{world.slug}/leader/groups/{world.group_id}"
    resp = client.post(url, data=_form(world, p=[str(world.participant_ids[0])], l=[], stop="18:30"))
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "räknas inte för bidraget" in html
    reasons = re.search(r'<ul class="reasons">(.*?)</ul>', html, re.S).group(1)
    assert reasons.count("<li>") >= 3, reasons  # too short, too few participants, no leader
    # At the same time as the first: Alva is in both, which the leader is told without naming the other one.
    resp = client.post(url, data=_form(world))
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Alva Berg är också registrerad på en annan aktivitet vid samma tid" in html
    resp = client.post(url, data=_form(world, start="20:00", stop="21:30", p=[str(i) for i in world.participant_ids[1:]]))
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    # The session itself counts; that the association has not yet reached the period's thresholds is a note.
    assert "Sparad och godkänd, men kontrollera det här:" in html
    assert "Föreningen når inte kraven för stöd denna period" in html
    client.get("/lang/en")
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Saved and accepted, but check this:" in html


def test_a_session_that_meets_the_rules_is_accepted_in_plain_words(app, client):
    with app.app_context():
        world = build_world(ruleset="fagersta")  # ≥ 3 participants, a leader, ≥ 60 minutes
    sign_in(client, world.email)
    resp = client.post(f"/k/{world.slug}/leader/groups/{world.group_id}", data=_form(world))
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Sparad och godkänd: sammankomsten räknas för bidraget." in html, html
    assert 'class="reasons"' not in html
