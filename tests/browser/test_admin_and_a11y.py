"""An administrator delegates a group and the leader sees that group only; axe-core finds no serious or
critical WCAG 2.1 AA violation on any page a signed-in administrator and leader can reach."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
from browserhelpers import DESKTOP, PHONE, axe_violations, sign_in, wait_until

from apn.extensions import db
from apn.services import accounts
from apn.tenancy import tenant_scope

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "leader"))
from leaderhelpers import PASSWORD, build_world  # noqa: E402

pytestmark = pytest.mark.browser
ADMIN = "admin@example.org"
#: Links a crawler must not follow: they change state or leave the HTML pages.
SKIP = re.compile(r"/logout|/lang/|/api/v1/openapi\.json|/static/|\.(csv|xlsx|xml|json|pdf)$|/app/")
MAX_PAGES = 40


def _world_with_admin(app):
    with app.app_context():
        world = build_world()
        admin = accounts.create_user(ADMIN, "Ada Admin", PASSWORD)
        with tenant_scope(world.tenant_id):
            accounts.grant_role(admin, "association_admin", association_id=world.association_id)
        db.session.commit()
    return world


def test_admin_delegates_a_group_and_the_leader_sees_only_that_group(app, live_app, base, browser):
    world = _world_with_admin(app)
    admin = browser.new_context(viewport=DESKTOP)
    page = admin.new_page()
    sign_in(page, base, ADMIN, PASSWORD)
    page.goto(f"{base}/k/{world.slug}/associations/{world.association_id}/leaders")
    page.fill("input[name=email]", "new.leader@example.org")
    page.fill("input[name=name]", "Nils Ny")
    page.check("label:has-text('F15 fotboll')")
    with page.expect_navigation():
        page.click("form:has(input[name=email]) button[type=submit]")
    assert "new.leader@example.org" in page.text_content("main")
    admin.close()

    mail = [m for m in live_app.extensions.get("apn_mail_outbox", []) if m["to"] == "new.leader@example.org"]
    path = re.search(r"https?://[^/\s]+(/\S+)", mail[-1]["body"]).group(1)
    leader = browser.new_context(viewport=PHONE)
    page = leader.new_page()
    page.goto(base + path)
    page.fill("input[name=password]", "a long new password")
    page.fill("input[name=confirm]", "a long new password")
    with page.expect_navigation():
        page.click("form button[type=submit]")
    page.goto(f"{base}/my-groups")
    assert page.url == f"{base}/k/{world.slug}/leader/"
    groups = page.locator(".groups .group-name").all_text_contents()
    assert groups == ["F15 fotboll"]
    resp = page.goto(f"{base}/k/{world.slug}/leader/groups/{world.group_id}")
    assert resp.status == 403
    leader.close()


def _crawl(page, base: str, start: list[str], seen: set[str]) -> dict[str, list[dict]]:
    """Visit pages breadth-first from ``start`` (same host, GET links only) and run axe on each; a page that
    answers with a server error is reported as a violation too."""
    queue = [base + s for s in start]
    found: dict[str, list[dict]] = {}
    while queue and len(seen) < MAX_PAGES:
        url = queue.pop(0).split("#")[0]
        if url in seen:
            continue
        seen.add(url)
        resp = page.goto(url)
        if resp is None or "text/html" not in (resp.headers.get("content-type") or ""):
            continue
        if resp.status >= 500:
            found[urlparse(url).path] = [{"id": "server-error", "impact": "critical", "status": resp.status}]
            continue
        found[urlparse(url).path] = axe_violations(page)
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
            target = urljoin(url, href)
            if target.startswith(base) and not SKIP.search(urlparse(target).path):
                queue.append(target)
    return found


def test_axe_finds_no_serious_violation_on_any_page(app, base, browser):
    world = _world_with_admin(app)
    ctx = browser.new_context(viewport=PHONE)
    page = ctx.new_page()
    seen: set[str] = set()
    results = _crawl(page, base, ["/", "/login", "/password/forgot"], seen)
    sign_in(page, base, ADMIN, PASSWORD)
    # A report to look at, and the attendance page with a mistake on it.
    page.goto(f"{base}/k/{world.slug}/leader/groups/{world.group_id}")
    page.click(f"label[for=p-{world.participant_ids[0]}]")
    page.click("button.save")
    page.wait_for_selector("#result .verdict")
    wait_until(page, "document.getElementById('outbox-status').textContent !== ''")
    results["attendance (after saving)"] = axe_violations(page)
    page.fill("#f-start", "")
    page.click("button.save")
    page.wait_for_selector("[role=alert]")
    results["attendance (with a mistake)"] = axe_violations(page)
    results.update(_crawl(page, base, ["/me", "/my-groups", f"/k/{world.slug}/leader/",
                                       f"/k/{world.slug}/associations/{world.association_id}"], seen))
    assert len(results) >= 20, sorted(results)
    assert any("/leader/sessions/" in p for p in results), sorted(results)
    bad = {p: v for p, v in results.items() if v}
    assert bad == {}
    ctx.close()
