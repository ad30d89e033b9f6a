"""The one door for tabular exports: a heading row and rows in, CSV or xlsx bytes out.

Every cell goes through :func:`apn.exports.cells.safe_cell`, so text that a spreadsheet would run as a
formula is written as text, and numbers and dates keep their type. An export that needs another layout adds
an option here rather than writing with ``csv.writer`` or openpyxl itself (a test looks for those).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any

from apn.exports.cells import safe_cell

Row = Sequence[Any]


def csv_bytes(heading: Row, rows: Iterable[Row], delimiter: str = ";") -> bytes:
    """A CSV file (UTF-8 with a byte-order mark, which Excel needs to read å, ä, ö; every field quoted when
    needed)."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    for row in chain([heading], rows):
        writer.writerow(["" if v is None else safe_cell(v) for v in row])
    return buf.getvalue().encode("utf-8-sig")


def _xlsx_text(value: Any) -> Any:
    """Characters XML cannot hold (NUL and other control characters) become U+FFFD instead of failing."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    return value


def xlsx_bytes(heading: Row, rows: Iterable[Row], title: str = "Data") -> bytes:
    """An xlsx workbook of one sheet, written in openpyxl's streaming (write-only) mode."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=title[:31] or "Data")
    for row in chain([heading], rows):
        ws.append([_xlsx_text(safe_cell(v)) for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
