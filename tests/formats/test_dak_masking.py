"""Personal numbers never in a DAK answer: schema errors (owned or not), facet values, register ids and the
importer's reasons are masked (issue 11, privacy), on the partner endpoint and the association's page."""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata

import pytest

from apn.extensions import db
from apn.formats.dak.parser import mask_numbers
from apn.services import accounts
from apn.services import partners as partner_svc
from apn.tenancy import tenant_scope
from apn.testing import factories as f

NS = "http://sverigesforeningssystem.se/importSchema.xsd"
PNR = f.make_pnr(dt.date(2012, 5, 17), 3, female=True)
FULLWIDTH = PNR.translate({ord(c): 0xFF10 + int(c) for c in "0123456789"})
ARABIC = PNR.translate({ord(c): 0x0660 + int(c) for c in "0123456789"})
PASSWORD = "correct horse battery"


def _folded_digit_runs(text: str) -> list[str]:
    """Runs of ten or more digits in ``text`` after folding (any script; dashes, ``+`` and invisible
    characters between digits dropped)."""
    out = []
    for ch in unicodedata.normalize("NFKC", text):
        cat = unicodedata.category(ch)
        if cat == "Nd":
            out.append(str(unicodedata.decimal(ch)))
        elif ch in "-+\u2212" or cat in ("Pd", "Cf"):
            continue
        else:
            out.append(ch)
    return re.findall(r"\d{10,}", "".join(out))


def _file(orgnr: str, *, kommun: str = "2480", reg_id: str = "d0", pnr_value: str = PNR, mark: str = "d0",
          dup: bool = False, foerening_id: str = "F1", datum: str | None = None) -> bytes:
    day = datum or (dt.date.today() - dt.timedelta(days=5)).isoformat()
    entry = (f'<Deltagare id="{reg_id}"><Foernamn>Ada</Foernamn><Efternamn>Ek</Efternamn>'
             f"<Personnummer>{pnr_value}</Personnummer></Deltagare>")
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<Aktivitetskort xmlns="{NS}">\n'
            f'<Kommun kommunID="{kommun}" version="2.2">\n'
            f'<Foerening foereningsID="{foerening_id}" foereningsNamn="IFK" organisationsnummer="{orgnr}">\n'
            '<Naervarokort NaervarokortNummer="77"><Aktivitet>Fotboll</Aktivitet><Lokal>Hall A</Lokal>'
            f'<Sammankomster>\n<Sammankomst kod="DAK-1" Datum="{day}">\n<StartTid>18:30:00</StartTid>'
            "<StoppTid>19:30:00</StoppTid><Aktivitet>Fotboll</Aktivitet><Lokal>Hall A</Lokal><Typ>Traening</Typ>"
            f'<Metod>Add</Metod><DeltagarLista><Deltagare id="{mark}"><Handikapp>false</Handikapp>'
            "<Naervarande>true</Naervarande></Deltagare></DeltagarLista><LedarLista/></Sammankomst>\n"
            "</Sammankomster></Naervarokort>\n</Foerening>\n</Kommun>\n"
            f"<DeltagarRegister>{entry}{entry if dup else ''}</DeltagarRegister>\n"
            "<LedarRegister/>\n</Aktivitetskort>\n").encode()


#: name -> a file builder (organisation number in): each puts a personal number where an answer would echo it.
CASES = {
    # libxml2's facet / type errors quote the value: on the register entry, the session, the association
    "facet_register": lambda o: _file(o, pnr_value=f"{PNR[:8]}-{PNR[8:]}"),
    "facet_register_fullwidth": lambda o: _file(o, pnr_value=f"{FULLWIDTH} "),
    "facet_session_date": lambda o: _file(o, datum=PNR),
    "facet_association_id": lambda o: _file(o, foerening_id=f"{PNR}-" + "x" * 50),
    # the personal number as the register id, listed twice; and as the id of an attendance mark
    "duplicate_register_id": lambda o: _file(o, reg_id=PNR, mark=PNR, dup=True),
    "duplicate_register_id_arabic": lambda o: _file(o, reg_id=ARABIC, mark=ARABIC, dup=True),
    "unknown_mark_id": lambda o: _file(o, mark=f"{PNR[:8]}-{PNR[8:]}"),
    # schema errors that belong to no session: the whole file is refused with their text
    "unowned_kommun_id": lambda o: _file(o, kommun=PNR),
    "unowned_kommun_id_10_digits": lambda o: _file(o, kommun=f"{PNR[2:8]}-{PNR[8:]}"),
    "not_well_formed": lambda o: _file(o).replace(b"<LedarRegister/>", f"<{PNR}/>".encode()),
}


@pytest.fixture
def setup(app):
    """A municipality, an association that authorised a partner (token) and its administrator."""
    with app.app_context():
        t = f.create_tenant(slug="umea", kommunkod="2480", name="Umeå kommun")
        a = f.create_association(t, name="IFK Test")
        admin = accounts.create_user("admin@example.org", "Ann Admin", PASSWORD)
        with tenant_scope(t.id):
            accounts.grant_role(admin, "association_admin", association_id=a.id)
            client, _ = partner_svc.create_client("ClubSoft")
            partner_svc.authorise(client.client_id, a.organisationsnummer)
            token, _ = partner_svc.issue_token(client)
        out = {"orgnr": a.organisationsnummer, "aid": a.id, "headers": {"Authorization": f"Bearer {token}"}}
        db.session.commit()
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_dak_answers_hold_no_personal_number(client, setup, case):
    body = CASES[case](setup["orgnr"])
    r = client.post("/api/v1/dak", data=body, content_type="application/xml", headers=setup["headers"])
    text = r.get_data(as_text=True)
    assert r.status_code in (200, 422), text[:500]
    assert "line" in text  # the answer still says where the problem is
    if r.status_code == 200:
        assert r.get_json()["refused_total"] >= 1, text
    assert _folded_digit_runs(text) == [], text

    assert client.post("/login", data={"email": "admin@example.org", "password": PASSWORD}).status_code == 302
    page = client.post(f"/k/umea/associations/{setup['aid']}/dak",
                       data={"file": (io.BytesIO(body), "f.xml")}, content_type="multipart/form-data")
    html = page.get_data(as_text=True)
    assert page.status_code in (200, 422), html[:500]
    assert _folded_digit_runs(html.replace(setup["orgnr"], "")) == [], html  # the association's own number


@pytest.mark.parametrize(("text", "expected"), [
    (f"id '{PNR}' twice", "id '20120517-****' twice"),
    (f"{PNR[:8]}-{PNR[8:]}", "20120517-****"),
    (f"{PNR[2:8]}-{PNR[8:]}", "******-****"),
    (f"{PNR[2:8]}+{PNR[8:]}", "******-****"),
    (FULLWIDTH, "20120517-****"),
    (ARABIC, "20120517-****"),
    (f"{PNR[:8]}\u200b{PNR[8:]}", "20120517-****"),
    (f"{PNR[:8]} {PNR[8:]}", "20120517-****"),
    (f"{PNR[2:8]} {PNR[8:]}", "******-****"),
    (PNR * 2, "******-****"),
    ("802000-0017", "******-****"),
    ("line 1234 (first at line 56789): 52,428,800 bytes", "line 1234 (first at line 56789): 52,428,800 bytes"),
])
def test_mask_numbers(text, expected):
    assert mask_numbers(text) == expected
    assert _folded_digit_runs(mask_numbers(text)) == []
