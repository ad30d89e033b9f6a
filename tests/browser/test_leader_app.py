"""A leader on a phone: signs in, takes attendance, loses coverage, takes another, gets coverage back, and
both sessions arrive exactly once."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest
from browserhelpers import PHONE, axe_violations, sign_in, wait_until
from sqlalchemy import select

from apn.extensions import db
from apn.models import ActivitySession, Attendance, IdempotencyKey
from apn.tenancy import tenant_scope

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "leader"))
from leaderhelpers import PASSWORD, build_world  # noqa: E402

pytestmark = pytest.mark.browser


def _sessions(app, tenant_id):
    with app.app_context(), tenant_scope(tenant_id):
        rows = db.session.execute(select(ActivitySession).order_by(ActivitySession.start_time)).scalars().all()
        out = []
        for s in rows:
            people = set(db.session.execute(select(Attendance.person_id).where(Attendance.session_id == s.id))
                         .scalars())
            out.append((s.start_time.strftime("%H:%M"), s.channel, people))
        keys = db.session.execute(select(IdempotencyKey.key)).scalars().all()
        return out, keys


def _leader_on_phone(app, base, browser, path: str):
    """A leader's world, signed in on a Swedish phone at ``path`` (formatted with the world's fields);
    returns (world, context, page, the page's script errors)."""
    with app.app_context():
        world = build_world()
    ctx = browser.new_context(viewport=PHONE, locale="sv-SE", has_touch=True, is_mobile=True)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, base, world.email, PASSWORD, next_path=path.format(slug=world.slug, group=world.group_id))
    return world, ctx, page, errors


def test_offline_attendance_arrives_exactly_once(app, base, browser):
    world, ctx, page, errors = _leader_on_phone(app, base, browser, "/k/{slug}/leader/")
    assert page.url == f"{base}/k/{world.slug}/leader/"
    # The service worker takes control of the municipality's pages.
    wait_until(page, "navigator.serviceWorker && navigator.serviceWorker.controller !== null", timeout=10000)
    page.click("text=P13 fotboll")
    page.wait_for_url(f"**/leader/groups/{world.group_id}")
    assert page.input_value("#f-date") == dt.date.today().isoformat()
    assert page.input_value("#f-start") == "18:00"

    # 1. With coverage: tap names, save; the result is shown at once.
    page.click(f"label[for=p-{world.participant_ids[0]}]")
    page.click(f"label[for=p-{world.participant_ids[1]}]")
    page.click(f"label[for=l-{world.leader_id}]")
    assert page.text_content("#present-count") == "(2 markerade som närvarande)"
    page.click("button.save")
    page.wait_for_selector("#result .verdict-saved, #result .verdict-accepted, #result .verdict-not_accepted")
    assert "Skickad:" in page.text_content("#result")
    wait_until(page, "document.getElementById('outbox-status').textContent === 'Allt är skickat.'")
    sessions, _ = _sessions(app, world.tenant_id)
    assert sessions == [("18:00", "app", {world.participant_ids[0], world.participant_ids[1], world.leader_id})]

    # 2. No coverage: the attendance is kept on the phone and the leader sees it waiting.
    ctx.set_offline(True)
    page.fill("#f-start", "19:45")
    page.fill("#f-stop", "21:00")
    page.click(f"label[for=p-{world.participant_ids[2]}]")
    page.click(f"label[for=l-{world.leader_id}]")
    page.click("button.save")
    wait_until(page,
        "document.getElementById('outbox-status').textContent === 'Väntar på att skickas: 1'")
    assert "P13 fotboll" in page.text_content("#outbox-list")
    assert len(_sessions(app, world.tenant_id)[0]) == 1
    # The page opens without coverage too (from the service worker), still showing what waits.
    page.reload()
    wait_until(page,
        "document.getElementById('outbox-status').textContent === 'Väntar på att skickas: 1'")

    # 3. Coverage again: it is sent by itself, once.
    ctx.set_offline(False)
    wait_until(page, "document.getElementById('outbox-status').textContent === 'Allt är skickat.'",
                           timeout=15000)
    page.evaluate("() => window.apnApp.sync()")  # a second send finds nothing left
    sessions, keys = _sessions(app, world.tenant_id)
    assert sessions == [
        ("18:00", "app", {world.participant_ids[0], world.participant_ids[1], world.leader_id}),
        ("19:45", "app", {world.participant_ids[2], world.leader_id}),
    ]
    assert len(keys) == 2 and len(set(keys)) == 2
    # Works on a 360-px phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert errors == []
    ctx.close()


def test_plain_form_keyboard_and_errors_announced(app, base, browser):
    """Keyboard only: tab to a name, tick it with the space bar, see the focus; a mistake is announced."""
    with app.app_context():
        world = build_world()
    ctx = browser.new_context(viewport=PHONE, java_script_enabled=True)
    page = ctx.new_page()
    sign_in(page, base, world.email, PASSWORD, next_path=f"/k/{world.slug}/leader/groups/{world.group_id}")
    first = f"#p-{world.participant_ids[0]}"
    page.focus(first)
    page.keyboard.press("Space")
    assert page.is_checked(first)
    outline = page.evaluate(f"getComputedStyle(document.querySelector('{first}')).outlineStyle")
    assert outline not in ("none", "")
    # An impossible time: the server explains it in an alert, with the field marked.
    page.fill("#f-stop", "")
    page.click("button.save")
    page.wait_for_selector("[role=alert]")
    assert "Skriv sluttiden som TT:MM." in page.text_content("[role=alert]")
    assert page.get_attribute("#f-stop", "aria-invalid") == "true"
    assert axe_violations(page) == []
    ctx.close()


def test_several_new_participants_are_added_in_one_report(app, base, browser):
    """'Add one more participant' makes another empty block, reachable by keyboard, and all are sent."""
    from apn.models import Person
    from apn.testing import factories as f

    world, ctx, page, errors = _leader_on_phone(app, base, browser, "/k/{slug}/leader/groups/{group}")
    page.click(f"label[for=l-{world.leader_id}]")
    page.fill("#f-new-first-0", "Nora")
    page.fill("#f-new-last-0", "Ny")
    page.fill("#f-new-birth-0", "2013-02-02")
    page.select_option("#f-new-sex-0", "F")
    page.check("#f-new-dis-0")
    page.focus("#f-new-add")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "f-new-pnr-1"
    assert page.get_attribute(".new-entry[data-index='1']", "aria-label") == "Ny deltagare 2"
    assert page.input_value("#f-new-first-1") == "" and not page.is_checked("#f-new-dis-1")
    page.keyboard.type(f.make_pnr(dt.date(2011, 6, 6), 7))
    page.check("#f-new-tl-1")
    assert axe_violations(page) == []
    page.click("button.save")
    page.wait_for_selector("#result .verdict-saved, #result .verdict-accepted, #result .verdict-not_accepted")
    assert "Skickad:" in page.text_content("#result")
    # The form is ready for the next report: one empty block again.
    assert page.locator(".new-entry").count() == 1 and page.input_value("#f-new-first-0") == ""
    with app.app_context(), tenant_scope(world.tenant_id):
        nora = db.session.execute(select(Person).where(Person.first_name == "Nora")).scalar_one()
        other = db.session.execute(select(Person).where(Person.birth_date == dt.date(2011, 6, 6))).scalar_one()
        marks = dict(db.session.execute(select(Attendance.person_id, Attendance.role)).all())
        disabled = set(db.session.execute(select(Attendance.person_id).where(Attendance.disability)).scalars())
    assert marks == {world.leader_id: "leader", nora.id: "participant", other.id: "temporary_leader"}
    assert disabled == {nora.id}
    assert errors == []
    ctx.close()


def test_a_send_that_fails_is_tried_again_soon(app, base, browser):
    """The network drops the first send (coverage flapping): the phone tries again after about 2 s by itself,
    well before its 30-second round, and the attendance arrives once."""
    world, ctx, page, errors = _leader_on_phone(app, base, browser, "/k/{slug}/leader/groups/{group}")
    dropped = []

    def drop_first(route):
        if not dropped:
            dropped.append(route.request.url)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route("**/app/sessions", drop_first)
    page.click(f"label[for=p-{world.participant_ids[0]}]")
    page.click(f"label[for=l-{world.leader_id}]")
    page.click("button.save")
    wait_until(page, "document.getElementById('outbox-status').textContent === 'Väntar på att skickas: 1'")
    page.wait_for_selector("#result .verdict-saved, #result .verdict-accepted, #result .verdict-not_accepted",
                           timeout=10000)
    assert len(dropped) == 1
    sessions, keys = _sessions(app, world.tenant_id)
    assert sessions == [("18:00", "app", {world.participant_ids[0], world.leader_id})]
    assert len(keys) == 1
    assert errors == []
    ctx.close()
