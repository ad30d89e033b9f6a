"""The leader's app meets a server whose database is restarting: 503 (or 429) with ``Retry-After``. The phone
waits as long as the server says, not its own 2-second retry, and the attendance then arrives once."""

from __future__ import annotations

import json
import time

import pytest
from test_leader_app import _leader_on_phone, _sessions

pytestmark = pytest.mark.browser

WAIT = 5  # seconds the server asks for: longer than the app's own first retry (2 s)


@pytest.mark.parametrize("status", [503, 429])
def test_the_app_waits_as_long_as_retry_after_says(app, base, browser, status):
    world, ctx, page, errors = _leader_on_phone(app, base, browser, "/k/{slug}/leader/groups/{group}")
    sends: list[float] = []

    def busy_first(route):
        sends.append(time.monotonic())
        if len(sends) == 1:
            route.fulfill(status=status, headers={"Retry-After": str(WAIT), "Content-Type": "application/json"},
                          body=json.dumps({"code": status, "status": "busy", "message": "try again"}))
        else:
            route.continue_()

    page.route("**/app/sessions", busy_first)
    page.click(f"label[for=p-{world.participant_ids[0]}]")
    page.click(f"label[for=l-{world.leader_id}]")
    page.click("button.save")
    page.wait_for_selector("#result .verdict-saved, #result .verdict-accepted, #result .verdict-not_accepted",
                           timeout=(WAIT + 10) * 1000)
    assert len(sends) == 2
    assert sends[1] - sends[0] >= WAIT - 0.2, "sent again before the server's Retry-After"
    assert sends[1] - sends[0] < WAIT + 3
    sessions, keys = _sessions(app, world.tenant_id)
    assert sessions == [("18:00", "app", {world.participant_ids[0], world.leader_id})]
    assert len(keys) == 1
    assert errors == []
    ctx.close()
