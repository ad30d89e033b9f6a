"""POST /api/v1/dak: a DAK file through the gateway, with counts, refusals by line, and the right 4xx."""

from __future__ import annotations

import datetime as dt

from apn.testing.factories import make_pnr

NS_22 = "http://sverigesforeningssystem.se/importSchema.xsd"


def dak(orgnr: str, kommun: str = "2480", day: str | None = None, bad_pnr: bool = False) -> bytes:
    day = day or (dt.date.today() - dt.timedelta(days=5)).isoformat()
    kids = {f"d{i}": make_pnr(dt.date(2012, 3, i + 1), i) for i in range(3)}
    if bad_pnr:
        kids["d2"] = kids["d2"][:-1] + str((int(kids["d2"][-1]) + 1) % 10)
    leader = make_pnr(dt.date(1980, 4, 4), 7)

    def session(kod: str, start: str, stop: str, people: list[str]) -> str:
        marks = "".join(f'<Deltagare id="{p}"><Handikapp>false</Handikapp><Naervarande>true</Naervarande>'
                        "</Deltagare>" for p in people)
        return (f'<Sammankomst kod="{kod}" Datum="{day}">\n<StartTid>{start}:00</StartTid><StoppTid>{stop}:00'
                "</StoppTid><Aktivitet>Fotboll</Aktivitet><Lokal>Hall A</Lokal><Typ>Traening</Typ>"
                f"<Metod>Add</Metod><DeltagarLista>{marks}</DeltagarLista><LedarLista><Ledare id=\"l1\">"
                "<Handikapp>false</Handikapp><Naervarande>true</Naervarande></Ledare></LedarLista>"
                "</Sammankomst>\n")

    people = "".join(f'<Deltagare id="{k}"><Foernamn>Kid</Foernamn><Efternamn>{k}</Efternamn>'
                     f"<Personnummer>{v}</Personnummer></Deltagare>" for k, v in kids.items())
    xml = (f'<?xml version="1.0" encoding="utf-8"?>\n<Aktivitetskort xmlns="{NS_22}">\n'
           f'<Kommun kommunID="{kommun}" version="2.2">\n'
           f'<Foerening foereningsID="F1" foereningsNamn="IFK" organisationsnummer="{orgnr}">\n'
           '<Naervarokort NaervarokortNummer="77"><Aktivitet>Fotboll</Aktivitet><Lokal>Hall A</Lokal>'
           "<Sammankomster>\n"
           + session("DAK-001", "17:00", "18:00", ["d0", "d1"])
           + session("DAK-002", "18:00", "19:00", ["d0", "d1", "d2"])
           + "</Sammankomster></Naervarokort>\n</Foerening>\n</Kommun>\n"
           f"<DeltagarRegister>{people}</DeltagarRegister>\n"
           f'<LedarRegister><Ledare id="l1"><Foernamn>Lea</Foernamn><Efternamn>Der</Efternamn>'
           f"<Personnummer>{leader}</Personnummer></Ledare></LedarRegister>\n</Aktivitetskort>\n")
    return xml.encode()


def post(client, partner, body: bytes, ctype: str = "application/xml", **headers):
    return client.post("/api/v1/dak", data=body, content_type=ctype, headers={**partner.headers, **headers})


def test_dak_file_is_imported_and_counted(client, partner):
    r = post(client, partner, dak(partner.orgnr))
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"file": {"sessions": 2, "participations": 5, "leader_participations": 2},
                            "accepted": {"sessions": 2, "participations": 5, "leader_participations": 2},
                            "refused": [], "refused_total": 0}
    s = client.get("/api/v1/sessions/DAK-002", headers=partner.headers).get_json()
    assert s["counts"] == {"participations": 3, "leader_participations": 1} and s["card_number"] == "77"


def test_dak_refusals_keep_the_rest(client, partner):
    r = post(client, partner, dak(partner.orgnr, bad_pnr=True), ctype="text/xml")
    body = r.get_json()
    assert r.status_code == 200
    assert body["accepted"]["sessions"] == 1 and len(body["refused"]) == 1
    assert body["refused"][0]["kod"] == "DAK-002" and body["refused"][0]["line"] > 0


def test_dak_of_an_association_that_did_not_authorise_or_another_municipality(client, partner):
    body = post(client, partner, dak(partner.other_orgnr)).get_json()
    assert body["accepted"]["sessions"] == 0 and len(body["refused"]) == 2
    body = post(client, partner, dak(partner.orgnr, kommun="1384")).get_json()
    assert body["accepted"]["sessions"] == 0 and len(body["refused"]) == 2


def test_unreadable_files_are_4xx_and_replays_are_idempotent(client, partner):
    for raw in (b"", b"not xml", b"<?xml version='1.0'?><x/>", b"\xff\xfe<"):
        r = post(client, partner, raw)
        assert 400 <= r.status_code < 500 and r.get_json()["message"], raw
    xml = dak(partner.orgnr)
    first = post(client, partner, xml, **{"Idempotency-Key": "dak-1"})
    again = post(client, partner, xml, **{"Idempotency-Key": "dak-1"})
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_json() == first.get_json()
