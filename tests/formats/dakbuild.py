"""Build DAK files for tests: one element per line, so tests can find the line of anything by its text."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

NS_21 = "http://aktivitetskort.net.umea.se/importSchema.xsd"
NS_22 = "http://sverigesforeningssystem.se/importSchema.xsd"


def _b(v: bool) -> str:
    return "true" if v else "false"


def session_xml(s: dict) -> list[str]:
    """Lines of one Sammankomst from a dict (kod, date, start, stop, stop_date, participants, leaders, …)."""
    out = [f'<Sammankomst kod={quoteattr(s["kod"])} Datum="{s.get("date", "2026-03-04")}">',
           f'<StartTid>{s.get("start", "18:00:00")}</StartTid>',
           f'<StoppTid>{s.get("stop", "19:30:00")}</StoppTid>']
    if s.get("stop_date"):
        out.append(f'<StoppDatum>{s["stop_date"]}</StoppDatum>')
    out += [f'<Aktivitet>{s.get("activity", "Fotboll")}</Aktivitet>',
            f'<Lokal>{s.get("lokal", "Hall A")}</Lokal>',
            f'<Typ>{s.get("typ", "Traening")}</Typ>',
            f'<Metod>{s.get("method", "Add")}</Metod>']
    if "team" in s:
        out.append(f'<Lagidrott>{_b(s["team"])}</Lagidrott>')
    out.extend(s.get("extra", []))
    if "participants" in s:
        out.append("<DeltagarLista>")
        for p in s["participants"]:
            attr = ' tillfaelligLedare="true"' if p.get("temp") == "attribute" else ""
            out.append(f'<Deltagare id={quoteattr(p["id"])}{attr}>')
            out.append(f'<Handikapp>{_b(p.get("disability", False))}</Handikapp>')
            out.append(f'<Naervarande>{_b(p.get("present", True))}</Naervarande>')
            if p.get("temp") == "element":
                out.append("<TillfaelligLedare>true</TillfaelligLedare>")
            out.append("</Deltagare>")
        out.append("</DeltagarLista>")
    if "leaders" in s:
        out.append("<LedarLista>")
        for p in s["leaders"]:
            out += [f'<Ledare id={quoteattr(p["id"])}>', f'<Handikapp>{_b(p.get("disability", False))}</Handikapp>',
                    f'<Naervarande>{_b(p.get("present", True))}</Naervarande>', "</Ledare>"]
        out.append("</LedarLista>")
    out.append("</Sammankomst>")
    return out


def dak_file(associations: list[dict], participants: dict | None = None, leaders: dict | None = None,
             ns: str = NS_22, version: str | None = "2.2", kommun: str = "2480") -> bytes:
    """A whole file. ``associations``: [{"orgnr", "id"?, "cards": [{"number", "activity"?, "lokal"?, "name"?,
    "sessions": [...]}]}]; registers: {id: (first, last, personnummer)}."""
    ver = f' version="{version}"' if version else ""
    lines = ['<?xml version="1.0" encoding="utf-8"?>', f'<Aktivitetskort xmlns="{ns}">',
             f'<Kommun kommunID="{kommun}"{ver}>']
    for i, a in enumerate(associations):
        org = f' organisationsnummer="{a["orgnr"]}"' if a.get("orgnr") else ""
        lines.append(f'<Foerening foereningsID="{a.get("id", f"F{i}")}" foereningsNamn="Klubb {i}"{org}>')
        for c in a.get("cards", []):
            lines += [f'<Naervarokort NaervarokortNummer="{c["number"]}">',
                      f'<Aktivitet>{c.get("activity", "Fotboll")}</Aktivitet>',
                      f'<Lokal>{c.get("lokal", "Hall A")}</Lokal>']
            if c.get("name"):
                lines.append(f'<NamnPaaKort>{c["name"]}</NamnPaaKort>')
            lines.append("<Sammankomster>")
            for s in c.get("sessions", []):
                lines += session_xml(s)
            lines += ["</Sammankomster>", "</Naervarokort>"]
        lines.append("</Foerening>")
    lines.append("</Kommun>")
    for reg, item, people in (("DeltagarRegister", "Deltagare", participants), ("LedarRegister", "Ledare", leaders)):
        if people is None:
            continue
        lines.append(f"<{reg}>")
        for pid, (first, last, pnr) in people.items():
            lines += [f'<{item} id={quoteattr(pid)}>', f"<Foernamn>{first}</Foernamn>", f"<Efternamn>{last}</Efternamn>",
                      f"<Personnummer>{pnr}</Personnummer>", f"</{item}>"]
        lines.append(f"</{reg}>")
    lines.append("</Aktivitetskort>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def line_of(xml: bytes, needle: str, nth: int = 0) -> int:
    """1-based line of the ``nth`` occurrence of ``needle``."""
    hits = [i + 1 for i, line in enumerate(xml.decode("utf-8").splitlines()) if needle in line]
    return hits[nth]
