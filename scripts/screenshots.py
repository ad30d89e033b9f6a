"""Regenerate the screenshots of the main pages (phone and desktop) into docs/screenshots/.

Run with ``make screenshots``. Builds a small example municipality in a throw-away SQLite database, serves the
app on 127.0.0.1 and photographs the pages with Debian's chromium (Playwright). Nothing leaves the machine.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from browserhelpers import DESKTOP, PHONE, LiveServer, launch, sign_in  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
PASSWORD = "correct horse battery"


def build_app(db_path: Path):
    """An app on a fresh SQLite database with one municipality, association, group, roster and users."""
    from apn import create_app
    from apn.extensions import db
    from apn.services import accounts
    from apn.tenancy import tenant_scope
    from apn.testing import factories as f

    app = create_app({"DATABASE_URL": f"sqlite:///{db_path}", "SECRET_KEY": "screenshots",
                      "PNR_HASH_KEY": "screenshots", "RATELIMIT_ENABLED": False,
                      "PNR_ENCRYPTION_KEY": "x3pC6mCTcLkq2cXKhYFx1p4qYkYQ3F3Hn0u3ZbqJ1kE="})
    with app.app_context():
        db.create_all()
        t = f.create_tenant(slug="umea", name="Umeå kommun", kommunkod="2480", ruleset="fagersta")
        a = f.create_association(t, name="IK Sävar")
        hall = f.create_facility(t, name="Sävar sporthall")
        f.create_facility(t, name="Ersboda skola")
        g = f.create_group(t, a, name="P13 fotboll", facility=hall, usual_weekday=1, usual_start=dt.time(18, 0),
                           usual_stop=dt.time(19, 30), main_activity="Fotboll")
        f.create_group(t, a, name="F11 innebandy", facility=hall)
        names = ["Alva Berg", "Bo Lind", "Cleo Nilsson", "Dan Öberg", "Elsa Sund", "Filip Åström", "Greta Holm",
                 "Hugo Strand"]
        for i, name in enumerate(names):
            first, last = name.split()
            p = f.create_person(t, dt.date(2012, 1 + i, 10 + i), female=i % 2 == 0, first_name=first, last_name=last)
            f.add_to_roster(t, g, p)
        leader = f.create_person(t, dt.date(1984, 5, 5), first_name="Lena", last_name="Ledare")
        f.add_to_roster(t, g, leader, role="leader")
        user = accounts.create_user("lena@example.org", "Lena Ledare", PASSWORD)
        admin = accounts.create_user("ada@example.org", "Ada Admin", PASSWORD)
        with tenant_scope(t.id):
            accounts.grant_role(user, "reporter", group_id=g.id)
            accounts.grant_role(admin, "association_admin", association_id=a.id)
        db.session.commit()
        return app, g.id, a.id


def shoot(page, name: str, size: str) -> None:
    """Save a full-page screenshot."""
    path = OUT / f"{name}-{size}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"wrote {path.relative_to(ROOT)}")


def main() -> int:
    """Photograph the pages."""
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="apn-shots-"))
    try:
        app, group_id, assoc_id = build_app(tmp / "shots.sqlite")
        server = LiveServer(app).start()
        base = server.url
        try:
            with sync_playwright() as pw:
                browser = launch(pw)
                for size, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
                    ctx = browser.new_context(viewport=viewport, locale="sv-SE")
                    page = ctx.new_page()
                    page.goto(base + "/")
                    shoot(page, "start", size)
                    page.goto(base + "/login")
                    shoot(page, "sign-in", size)
                    sign_in(page, base, "lena@example.org", PASSWORD, next_path="/k/umea/leader/")
                    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=10000)
                    shoot(page, "leader-groups", size)
                    page.goto(f"{base}/k/umea/leader/groups/{group_id}")
                    # Each size reports another day, so the second does not look like a double report.
                    day = dt.date.today() - dt.timedelta(days=0 if size == "phone" else 1)
                    page.fill("#f-date", day.isoformat())
                    for label in ("Alva Berg", "Bo Lind", "Cleo Nilsson", "Lena Ledare"):
                        page.click(f"label:has-text('{label}')")
                    shoot(page, "attendance", size)
                    page.click("button.save")
                    page.wait_for_selector("#result .verdict-accepted, #result .verdict-not_accepted, "
                                           "#result .verdict-saved")
                    ctx.set_offline(True)
                    page.fill("#f-start", "19:45")
                    page.fill("#f-stop", "21:00")
                    for label in ("Dan Öberg", "Elsa Sund", "Filip Åström"):
                        page.click(f"label:has-text('{label}')")
                    page.click("label:has-text('Lena Ledare')")
                    page.click("button.save")
                    page.wait_for_function("document.getElementById('outbox-status').textContent.includes('1')")
                    shoot(page, "attendance-offline", size)
                    ctx.set_offline(False)
                    page.wait_for_function("document.getElementById('outbox-status').textContent === 'Allt är skickat.'")
                    page.click("#result a")
                    page.wait_for_load_state()
                    shoot(page, "session-result", size)
                    ctx.close()
                    ctx = browser.new_context(viewport=viewport, locale="sv-SE")
                    page = ctx.new_page()
                    sign_in(page, base, "ada@example.org", PASSWORD)
                    for name, path in (("association", ""), ("association-leaders", "/leaders"),
                                       ("association-sessions", "/sessions"), ("association-grant", "/grant")):
                        resp = page.goto(f"{base}/k/umea/associations/{assoc_id}{path}")
                        if resp is not None and resp.ok:
                            shoot(page, name, size)
                    ctx.close()
                browser.close()
        finally:
            server.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
