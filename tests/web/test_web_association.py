"""The association administrator's pages: delegation, rosters, imports, partners, DAK, sessions, grant,
period report, and tenant isolation."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import Workbook
from sqlalchemy import select
from webhelpers import PASSWORD, link_in, make_user, outbox, sign_in

from apn.extensions import db
from apn.models import (
    Application,
    AuditEntry,
    Decision,
    DecisionLine,
    GrantPeriod,
    GroupMember,
    PartnerAuthorisation,
    Person,
    RoleGrant,
    Tenant,
)
from apn.services import partners
from apn.tenancy import tenant_scope
from apn.testing import factories as f


def base(world) -> str:
    """URL prefix of the association's pages."""
    return f"/k/{world.slug}/associations/{world.association_id}"


@pytest.fixture
def admin(world, client):
    """The test client, signed in as the association's administrator."""
    assert sign_in(client, world.admin_email).status_code == 302
    return client


# --- access -----------------------------------------------------------------------------------------------

def test_anonymous_is_sent_to_sign_in(world, client):
    resp = client.get(base(world) + "/groups")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_other_tenants_association_and_group_are_not_found(world, admin):
    assert admin.get(f"/k/{world.slug}/associations/{world.other_association_id}").status_code == 404
    assert admin.get(base(world) + f"/groups/{world.other_group_id}").status_code == 404
    assert admin.get(f"/k/nowhere/associations/{world.association_id}").status_code == 404
    # the other municipality's association exists there, but this user has no role in it
    assert admin.get(f"/k/{world.other_slug}/associations/{world.other_association_id}").status_code == 403


def test_a_leader_cannot_open_the_admin_pages(app, world, client):
    with app.app_context():
        t = db.session.get(Tenant, world.tenant_id)
        make_user(t, "leader@ik.se", "reporter", group_id=world.group_ids[0])
        db.session.commit()
    sign_in(client, "leader@ik.se")
    assert client.get(base(world)).status_code == 403


# --- invitation and delegation ---------------------------------------------------------------------------------

def test_invite_delegate_and_withdraw(app, world, admin):
    g1, g2 = world.group_ids
    page = admin.get(base(world) + "/leaders").get_data(as_text=True)
    assert 'for="email"' in page and "P13 fotboll" in page
    resp = admin.post(base(world) + "/leaders", data={"email": "Lena@Example.se", "name": "Lena Ledare",
                                                      "groups": [str(g1)]})
    assert resp.status_code == 302
    mail = outbox(app)[-1]
    assert mail["to"] == "lena@example.se" and "P13 fotboll" in mail["body"] and "F11" not in mail["body"]
    invitation = link_in(mail["body"])
    admin.post("/logout")

    leader = app.test_client()
    assert leader.get(invitation).status_code == 200
    assert leader.post(invitation, data={"password": "lenas password!", "confirm": "lenas password!"}
                       ).status_code == 302
    me = leader.get("/me").get_data(as_text=True)
    assert "P13 fotboll" in me and "F11 fotboll" not in me
    assert leader.get(f"/k/{world.slug}/leader/groups/{g1}").status_code == 200
    assert leader.get(f"/k/{world.slug}/leader/groups/{g2}").status_code == 403
    assert leader.get(invitation).status_code == 400  # used

    # the administrator withdraws the right: the leader's next request no longer has it
    sign_in(admin, world.admin_email)
    with app.app_context(), tenant_scope(world.tenant_id):
        grant_id = db.session.execute(select(RoleGrant.id).where(RoleGrant.role == "reporter")).scalar_one()
    listed = admin.get(base(world) + "/leaders").get_data(as_text=True)
    assert "Lena Ledare" in listed
    assert admin.post(base(world) + f"/leaders/grants/{grant_id}/withdraw").status_code == 302
    assert leader.get(f"/k/{world.slug}/leader/groups/{g1}").status_code == 403
    assert "P13 fotboll" not in leader.get("/me").get_data(as_text=True)


def test_inviting_an_existing_user_grants_only_when_accepted(app, world, admin):
    """An existing account gets an invitation to accept, not rights (tests/security/test_accounts.py)."""
    with app.app_context():
        make_user(db.session.get(Tenant, world.tenant_id), "known@ik.se")
        db.session.commit()
    admin.post(base(world) + "/leaders", data={"email": "known@ik.se", "name": "Known", "groups": [
        str(world.group_ids[1])]})
    invitation = link_in(outbox(app)[-1]["body"])
    other = app.test_client()
    sign_in(other, "known@ik.se", PASSWORD)
    assert "F11 fotboll" not in other.get("/me").get_data(as_text=True)
    assert other.post(invitation).status_code == 302
    assert "F11 fotboll" in other.get("/me").get_data(as_text=True)


def test_invite_with_bad_input_shows_errors(world, admin):
    resp = admin.post(base(world) + "/leaders", data={"email": "not-an-address", "name": ""})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'role="alert"' in html and 'id="name-error"' in html and 'id="groups-error"' in html
    # a group of another municipality cannot be delegated
    resp = admin.post(base(world) + "/leaders", data={"email": "x@ik.se", "name": "X",
                                                      "groups": [str(world.other_group_id)]})
    assert resp.status_code == 422


# --- groups and rosters -------------------------------------------------------------------------------------------

def test_create_and_edit_group(world, admin):
    resp = admin.post(base(world) + "/groups/new", data={"name": "Scouter tisdag", "main_activity": "Scouting",
                                                         "usual_weekday": "1", "usual_start": "18:00",
                                                         "usual_stop": "19:30", "active": "y",
                                                         "main_facility_id": "None"})
    assert resp.status_code == 302
    gid = int(resp.headers["Location"].rstrip("/").split("/")[-1])
    assert "Scouter tisdag" in admin.get(base(world) + "/groups").get_data(as_text=True)
    dup = admin.post(base(world) + "/groups/new", data={"name": "Scouter tisdag", "main_facility_id": "None",
                                                        "usual_weekday": "None"})
    assert dup.status_code == 409 and "redan en grupp" in dup.get_data(as_text=True)
    bad = admin.post(base(world) + f"/groups/{gid}/edit", data={"name": "", "usual_stop": "25:00",
                                                                "main_facility_id": "None", "usual_weekday": "None"})
    assert bad.status_code == 422
    ok = admin.post(base(world) + f"/groups/{gid}/edit", data={"name": "Scouter onsdag", "usual_weekday": "2",
                                                               "main_facility_id": "None", "active": "y"})
    assert ok.status_code == 302


def test_add_people_masked_and_audited(app, world, admin):
    gid = world.group_ids[0]
    pnr = f.make_pnr(dt.date(2013, 4, 5), 7, female=True)
    resp = admin.post(base(world) + f"/groups/{gid}/people", data={
        "role": "participant", "first_name": "Alva", "last_name": "Ek", "personnummer": pnr})
    assert resp.status_code == 302
    resp = admin.post(base(world) + f"/groups/{gid}/people", data={
        "role": "leader", "first_name": "Bo", "last_name": "Lind", "birth_date": "1985-02-03", "sex": "M"})
    assert resp.status_code == 302
    page = admin.get(base(world) + f"/groups/{gid}").get_data(as_text=True)
    assert "Alva Ek" in page and "20130405-****" in page and pnr not in page and pnr[8:] not in page
    assert "Bo Lind" in page and "19850203" in page
    with app.app_context(), tenant_scope(world.tenant_id):
        entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "person.view")
                                   .order_by(AuditEntry.id.desc())).scalars().first()
        assert entry.entity == "group" and entry.entity_id == str(gid) and entry.after["count"] == 2


def test_add_person_with_bad_number_says_why(world, admin):
    gid = world.group_ids[0]
    resp = admin.post(base(world) + f"/groups/{gid}/people", data={
        "role": "participant", "first_name": "Alva", "last_name": "Ek", "personnummer": "201304051234"})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "kontrollsiffran är fel" in html and 'id="personnummer-error"' in html
    resp = admin.post(base(world) + f"/groups/{gid}/people", data={"role": "participant", "first_name": "Ann"})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'id="last_name-error"' in html and 'id="birth_date-error"' in html and 'id="sex-error"' in html


def _csv_file() -> bytes:
    good1 = f.make_pnr(dt.date(2012, 1, 2), 3)
    good2 = f.make_pnr(dt.date(2011, 6, 7), 4, female=True)
    rows = [
        "förnamn;efternamn;personnummer;födelsedatum;kön;roll",
        f"Anna;Berg;{good2};;;deltagare",           # line 2: good
        "Ola;Nord;201201021111;;;deltagare",        # line 3: bad check digit
        f"Kim;Sund;{good1};;;ledare",               # line 4: good
        "Sam;Öst;;2012-13-01;F;",                   # line 5: bad date
        "Eva;Väst;;2013-02-03;F;",                  # line 6: good, no personnummer
        "Per;;;2013-02-03;Q;tränare",               # line 7: missing last name, bad sex, bad role
        f"Anna;Berg;{good2};;;deltagare",           # line 8: same person as line 2
    ]
    return ("\n".join(rows) + "\n").encode("utf-8")


def test_csv_import_keeps_good_rows_and_lists_refusals(app, world, admin):
    gid = world.group_ids[0]
    resp = admin.post(base(world) + f"/groups/{gid}/import",
                      data={"file": (io.BytesIO(_csv_file()), "lista.csv"), "default_role": "participant"},
                      content_type="multipart/form-data")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "7 rader lästa: 3 tillagda i deltagarlistan, 0 fanns redan, 4 rader avvisade." in html
    assert "<td>3</td><td>personnummer</td><td>personnumret: kontrollsiffran är fel</td>" in html
    assert "<td>5</td><td>födelsedatum</td>" in html
    assert "<td>7</td><td>efternamn</td><td>saknas</td>" in html
    assert "<td>7</td><td>kön</td>" in html and "<td>7</td><td>roll</td>" in html
    assert "<td>8</td><td>personnummer</td><td>samma person som på rad 2</td>" in html
    with app.app_context(), tenant_scope(world.tenant_id):
        members = dict(db.session.execute(select(Person.first_name, GroupMember.role).join(
            GroupMember, GroupMember.person_id == Person.id).where(GroupMember.group_id == gid)).all())
    assert members == {"Anna": "participant", "Kim": "leader", "Eva": "participant"}
    # importing the same file again adds nobody twice
    again = admin.post(base(world) + f"/groups/{gid}/import",
                       data={"file": (io.BytesIO(_csv_file()), "lista.csv"), "default_role": "participant"},
                       content_type="multipart/form-data")
    assert "0 tillagda i deltagarlistan, 3 fanns redan" in again.get_data(as_text=True)


def test_xlsx_import_with_a_bad_row(app, world, admin):
    gid = world.group_ids[1]
    wb = Workbook()
    ws = wb.active
    ws.append(["Förnamn", "Efternamn", "Födelsedatum", "Kön"])
    ws.append(["Lo", "Ask", dt.datetime(2014, 3, 4), "F"])     # line 2: a real Excel date
    ws.append(["Mo", "Al", "not a date", "M"])                 # line 3
    ws.append(["Jo", "Ek", "2015-05-06", "X"])                 # line 4
    buf = io.BytesIO()
    wb.save(buf)
    resp = admin.post(base(world) + f"/groups/{gid}/import",
                      data={"file": (io.BytesIO(buf.getvalue()), "lista.xlsx"), "default_role": "participant"},
                      content_type="multipart/form-data")
    html = resp.get_data(as_text=True)
    assert "3 rader lästa: 2 tillagda" in html
    assert "<td>3</td><td>Födelsedatum</td><td>är inte ett datum; skriv ÅÅÅÅ-MM-DD</td>" in html


def test_unreadable_roster_files_are_refused_with_a_reason(world, admin):
    gid = world.group_ids[0]
    url = base(world) + f"/groups/{gid}/import"
    resp = admin.post(url, data={"file": (io.BytesIO(b"PK\x03\x04garbage"), "x.xlsx"), "default_role": "participant"},
                      content_type="multipart/form-data")
    assert resp.status_code == 400 and "inte en läsbar Excel-fil" in resp.get_data(as_text=True)
    resp = admin.post(url, data={"file": (io.BytesIO(b"name;age\nA;3\n"), "x.csv"), "default_role": "participant"},
                      content_type="multipart/form-data")
    assert resp.status_code == 400 and "Rad 1 måste ange kolumnerna" in resp.get_data(as_text=True)
    resp = admin.post(url, data={"default_role": "participant"}, content_type="multipart/form-data")
    assert resp.status_code == 422 and 'id="file-error"' in resp.get_data(as_text=True)


# --- partner systems ------------------------------------------------------------------------------------------------

def test_authorise_and_withdraw_a_partner(app, world, admin):
    with app.app_context(), tenant_scope(world.tenant_id):
        client, _secret = partners.create_client("SportAdmin")
        client_id = client.client_id
        db.session.commit()
    page = admin.get(base(world) + "/partners").get_data(as_text=True)
    assert "SportAdmin" in page and "Ingen behörighet" in page
    assert admin.post(base(world) + f"/partners/{client_id}/authorise").status_code == 302
    assert "Behörighet sedan" in admin.get(base(world) + "/partners").get_data(as_text=True)
    with app.app_context(), tenant_scope(world.tenant_id):
        assert partners.authorised_association_ids(client.id) == {world.association_id}
    assert admin.post(base(world) + f"/partners/{client_id}/withdraw").status_code == 302
    with app.app_context(), tenant_scope(world.tenant_id):
        assert partners.authorised_association_ids(client.id) == set()
        assert db.session.execute(select(PartnerAuthorisation.withdrawn_at)).scalar_one() is not None
    assert admin.post(base(world) + "/partners/apn_unknown/authorise").status_code == 404


# --- DAK upload ----------------------------------------------------------------------------------------------------

def _dak(orgnr: str, other_orgnr: str, day: dt.date) -> bytes:
    kid, kid2, leader = (f.make_pnr(dt.date(2012, 1, 2), 11), f.make_pnr(dt.date(2012, 3, 4), 12),
                         f.make_pnr(dt.date(1980, 5, 6), 13))

    def session(kod: str) -> str:
        return (f'<Sammankomst kod="{kod}" Datum="{day.isoformat()}"><StartTid>18:00:00</StartTid>'
                "<StoppTid>19:30:00</StoppTid><Aktivitet>Fotboll</Aktivitet><Lokal>Hall A</Lokal>"
                "<Typ>Traening</Typ><Metod>Add</Metod><DeltagarLista>"
                '<Deltagare id="d1"><Handikapp>false</Handikapp><Naervarande>true</Naervarande></Deltagare>'
                '<Deltagare id="d2"><Handikapp>false</Handikapp><Naervarande>true</Naervarande></Deltagare>'
                '</DeltagarLista><LedarLista><Ledare id="l1"><Handikapp>false</Handikapp>'
                "<Naervarande>true</Naervarande></Ledare></LedarLista></Sammankomst>")

    card = ('<Naervarokort NaervarokortNummer="{n}"><Aktivitet>Fotboll</Aktivitet><Lokal>Hall A</Lokal>'
            "<Sammankomster>\n{s}\n</Sammankomster></Naervarokort>")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<Aktivitetskort xmlns="http://sverigesforeningssystem.se/importSchema.xsd">\n'
        '<Kommun kommunID="2480" version="2.2">\n'
        f'<Foerening foereningsID="F1" foereningsNamn="IK Test" organisationsnummer="{orgnr}">\n'
        + card.format(n=1, s=session("KOD-001")) + "\n</Foerening>\n"
        f'<Foerening foereningsID="F2" foereningsNamn="Annan" organisationsnummer="{other_orgnr}">\n'
        + card.format(n=2, s=session("KOD-002")) + "\n</Foerening>\n</Kommun>\n"
        "<DeltagarRegister>"
        f'<Deltagare id="d1"><Foernamn>A</Foernamn><Efternamn>B</Efternamn><Personnummer>{kid}</Personnummer></Deltagare>'
        f'<Deltagare id="d2"><Foernamn>C</Foernamn><Efternamn>D</Efternamn><Personnummer>{kid2}</Personnummer></Deltagare>'
        "</DeltagarRegister><LedarRegister>"
        f'<Ledare id="l1"><Foernamn>E</Foernamn><Efternamn>F</Efternamn><Personnummer>{leader}</Personnummer></Ledare>'
        "</LedarRegister>\n</Aktivitetskort>\n").encode()


def test_dak_upload_shows_counts_and_refusals(app, world, admin):
    with app.app_context():
        t = db.session.get(Tenant, world.tenant_id)
        other = f.create_association(t, name="Grannklubben")
        with tenant_scope(world.tenant_id):
            from apn.models import Association

            orgnr = Association.get_by_id(world.association_id).organisationsnummer
            other_orgnr = other.organisationsnummer
        db.session.commit()
    day = dt.date.today() - dt.timedelta(days=3)
    resp = admin.post(base(world) + "/dak", data={"file": (io.BytesIO(_dak(orgnr, other_orgnr, day)), "f.xml")},
                      content_type="multipart/form-data")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "<th scope=\"row\">I filen</th><td>2</td><td>4</td><td>2</td>" in html
    assert "<th scope=\"row\">Godtagna</th><td>1</td><td>2</td><td>1</td>" in html
    assert "KOD-002" in html
    sessions = admin.get(base(world) + "/sessions?period=" + _period_code_of(app, world, day)).get_data(
        as_text=True)
    assert "DAK-fil" in sessions and day.isoformat() in sessions
    bad = admin.post(base(world) + "/dak", data={"file": (io.BytesIO(b"<not xml"), "f.xml")},
                     content_type="multipart/form-data")
    assert 400 <= bad.status_code < 500 and 'id="file-error"' in bad.get_data(as_text=True)


def _period_code_of(app, world, day: dt.date) -> str:
    with app.app_context(), tenant_scope(world.tenant_id):
        return db.session.execute(select(GrantPeriod.code).where(
            GrantPeriod.starts_on <= day, GrantPeriod.ends_on >= day)).scalars().first()


# --- expected grant, period report, decision ---------------------------------------------------------------------

@pytest.fixture
def graded(app, client):
    """A municipality with Malmö-like rules, an ended period before its deadline and one after it, two
    sessions (one too short), and the association's administrator signed in."""
    today = dt.date.today()
    with app.app_context():
        t = f.create_tenant(slug="malmo", name="Malmö", kommunkod="1280", ruleset="malmo-2020")
        a = f.create_association(t, name="Malmö BK")
        grp = f.create_group(t, a, name="Ungdom")
        make_user(t, "boss@mbk.se", "association_admin", association_id=a.id)
        with tenant_scope(t.id):
            open_p = GrantPeriod(tenant_id=t.id, code="TEST-OPEN", starts_on=today - dt.timedelta(days=40),
                                 ends_on=today - dt.timedelta(days=1), deadline=today + dt.timedelta(days=20))
            late_p = GrantPeriod(tenant_id=t.id, code="TEST-LATE", starts_on=today - dt.timedelta(days=400),
                                 ends_on=today - dt.timedelta(days=300), deadline=today - dt.timedelta(days=250))
            db.session.add_all([open_p, late_p])
            db.session.flush()
        kids = [f.create_person(t, dt.date(2012, 1, i + 1)) for i in range(5)]
        leader = f.create_person(t, dt.date(1980, 1, 1))
        day = today - dt.timedelta(days=10)
        f.report_session(t, grp, day, "18:00", "19:30", participants=kids, leaders=[leader])
        f.report_session(t, grp, day, "20:00", "20:30", participants=kids, leaders=[leader])
        db.session.commit()
        ids = {"slug": t.slug, "association_id": a.id, "open": open_p.id, "late": late_p.id, "tenant_id": t.id}
    assert sign_in(client, "boss@mbk.se").status_code == 302
    return ids


def test_expected_grant_explains_what_counts(graded, client):
    url = f"/k/{graded['slug']}/associations/{graded['association_id']}/grant?period=TEST-OPEN"
    resp = client.get(url)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "1 sammankomster räknas, 1 räknas inte. 5 deltagartillfällen" in html
    assert "24,00 kr" in html  # 5 participations × 4.80
    assert "<td class=\"status\">Nej</td>" in html and "<td class=\"status\">Ja</td>" in html
    english = client.get(url + "&lang=en").get_data(as_text=True)
    assert "1 sessions count, 1 do not." in english


def test_submit_before_the_deadline(app, graded, client):
    url = f"/k/{graded['slug']}/associations/{graded['association_id']}/periods/{graded['open']}"
    unconfirmed = client.post(url, data={})
    assert unconfirmed.status_code == 422 and 'id="confirm-error"' in unconfirmed.get_data(as_text=True)
    resp = client.post(url, data={"confirm": "y"})
    assert resp.status_code == 302
    with app.app_context(), tenant_scope(graded["tenant_id"]):
        row = db.session.execute(select(Application)).scalar_one()
        assert row.status == "submitted" and row.expected_ore == 2400 and row.submitted_by_user_id is not None
    again = client.post(url, data={"confirm": "y"})
    assert again.status_code == 409 and "redan inskickad" in again.get_data(as_text=True)


def test_submit_after_the_deadline_is_refused(app, graded, client):
    url = f"/k/{graded['slug']}/associations/{graded['association_id']}/periods/{graded['late']}"
    resp = client.post(url, data={"confirm": "y"})
    assert resp.status_code == 409
    assert "tar inte emot sena rapporter" in resp.get_data(as_text=True)
    with app.app_context(), tenant_scope(graded["tenant_id"]):
        assert db.session.execute(select(Application)).first() is None


def test_decision_is_shown(app, graded, client):
    with app.app_context(), tenant_scope(graded["tenant_id"]):
        appl = Application(tenant_id=graded["tenant_id"], association_id=graded["association_id"],
                           period_id=graded["open"], status="decided", expected_ore=2400)
        db.session.add(appl)
        db.session.flush()
        dec = Decision(tenant_id=graded["tenant_id"], application_id=appl.id, status="adjusted", amount_ore=1920,
                       reason="En deltagare var inte medlem.")
        db.session.add(dec)
        db.session.flush()
        db.session.add(DecisionLine(tenant_id=graded["tenant_id"], decision_id=dec.id, line_no=1,
                                    clause="rate", description="Deltagartillfällen", units=4, amount_ore=1920))
        db.session.commit()
    html = client.get(f"/k/{graded['slug']}/associations/{graded['association_id']}/periods/{graded['open']}"
                      ).get_data(as_text=True)
    assert "Justerat: 19,20 kr" in html and "En deltagare var inte medlem." in html and "Deltagartillfällen" in html
