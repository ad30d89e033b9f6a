"""Static accessibility checks of the rendered pages: every input has a label, errors are linked to their
fields, tables have captions and header cells, ids are unique."""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser

from webhelpers import make_user, sign_in

from apn.extensions import db
from apn.models import Tenant


class _Page(HTMLParser):
    """Collects what the checks need from one page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.label_for: set[str] = set()
        self.fields: list[dict] = []
        self.tables = 0
        self.captions = 0
        self.ths = 0
        self.described: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(a["id"])
        if tag == "label" and a.get("for"):
            self.label_for.add(a["for"])
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.fields.append(a)
        if a.get("aria-describedby"):
            self.described.extend(a["aria-describedby"].split())
        self.tables += tag == "table"
        self.captions += tag == "caption"
        self.ths += tag == "th"


def check(html: str) -> _Page:
    """Assert the page's basic accessibility and return what was parsed."""
    page = _Page()
    page.feed(html)
    unlabelled = [f for f in page.fields if f.get("id") not in page.label_for]
    assert not unlabelled, unlabelled
    dupes = [i for i, n in Counter(page.ids).items() if n > 1]
    assert not dupes, dupes
    assert all(d in page.ids for d in page.described), page.described
    assert page.captions == page.tables and (page.tables == 0 or page.ths > 0)
    assert '<html lang="' in html and '<main id="main"' in html
    return page


def test_pages_are_labelled_and_errors_linked(app, world, client):
    with app.app_context():
        make_user(db.session.get(Tenant, world.tenant_id), "it@umea.se", "tenant_admin")
        db.session.commit()
    check(client.get("/login").get_data(as_text=True))
    failed = check(client.post("/login", data={"email": "", "password": ""}).get_data(as_text=True))
    assert {"email-error", "password-error"} <= set(failed.described)
    check(client.get("/password/forgot").get_data(as_text=True))
    sign_in(client, world.admin_email)
    base = f"/k/{world.slug}/associations/{world.association_id}"
    gid = world.group_ids[0]
    for path in ("", "/groups", "/groups/new", f"/groups/{gid}", f"/groups/{gid}/edit", "/leaders", "/partners",
                 "/dak", "/sessions"):
        resp = client.get(base + path)
        assert resp.status_code == 200, path
        check(resp.get_data(as_text=True))
    bad = client.post(base + f"/groups/{gid}/people", data={"role": "participant"})
    page = check(bad.get_data(as_text=True))
    assert {"first_name-error", "last_name-error", "birth_date-error", "sex-error"} <= set(page.described)
    assert 'role="alert"' in bad.get_data(as_text=True)
    check(client.post(base + "/leaders", data={}).get_data(as_text=True))
    client.post("/logout")
    sign_in(client, "it@umea.se")
    check(client.get(f"/k/{world.slug}/admin/partners").get_data(as_text=True))
    check(client.get("/me").get_data(as_text=True))
