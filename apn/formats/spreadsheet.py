"""Tabular uploads (CSV, xlsx) read within fixed bounds: rows, lines, columns, cell length, unpacked size.

An xlsx file is a zip of XML parts, and a small upload can unpack to gigabytes or declare millions of cells.
Nothing here trusts what the file declares: before openpyxl opens it, every part is inflated once in small
chunks (never more than :data:`CHUNK` bytes at a time), counted and checked against its declared size and
CRC, so that openpyxl's own reads, which trust the declared sizes, stay within the limits below. Then only
the first sheet is read, in openpyxl's read-only (streaming) mode, at most ``max_columns`` wide, and reading
stops at the first row over a limit. CSV is read row by row with the same row, column and cell limits.

Refusals are :class:`apn.errors.DomainError` on the field ``file`` with a translated message that names the
limit, status 400 or 413; nothing is stored by the caller (it has not got any rows).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from apn.errors import DomainError

MB = 1024 * 1024
#: The most bytes inflated in one step while checking an xlsx part.
CHUNK = 64 * 1024

Rows = list[tuple[int, list[Any]]]


@dataclass(frozen=True)
class Limits:
    """What an upload may hold. ``max_rows`` counts non-blank rows after the heading row."""

    max_rows: int = 5000
    max_lines: int = 20_000           # line (sheet row) numbers, blank lines included
    max_columns: int = 256            # the old Excel width (A..IV)
    max_cell_chars: int = 1000
    max_cells: int = 150_000          # cell elements in one xlsx part (openpyxl parses each one)
    max_parts: int = 200              # zip members of an xlsx file
    max_part_bytes: int = 16 * MB     # one part, unpacked
    max_total_bytes: int = 32 * MB    # all parts, unpacked
    max_shared_strings_bytes: int = 4 * MB  # the text table openpyxl keeps in memory whole
    max_ratio: int = 100              # unpacked / packed, for parts over 1 MB


def _refuse(message: str, status: int = 400) -> DomainError:
    return DomainError(message, field="file", status=status)


def _trim(row: Any) -> list[Any]:
    """The row without trailing empty cells (``None`` becomes ``""``)."""
    cells = ["" if v is None else v for v in row]
    while cells and not str(cells[-1]).strip():
        cells.pop()
    return cells


def _check_cells(line: int, cells: list[Any], limits: Limits) -> None:
    if len(cells) > limits.max_columns:
        raise _refuse(_("Line %(line)d has %(count)d columns; at most %(max)d are accepted.",
                        line=line, count=len(cells), max=limits.max_columns))
    for col, value in enumerate(cells, start=1):
        if isinstance(value, str) and len(value) > limits.max_cell_chars:
            raise _refuse(_("Line %(line)d, column %(column)d: the value is %(length)d characters long; at most "
                            "%(max)d are accepted.", line=line, column=col, length=len(value),
                            max=limits.max_cell_chars))


class _Collector:
    """Keeps the non-blank rows of a file and refuses it at the first row over a limit."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.rows: Rows = []

    def add(self, line: int, row: Any) -> None:
        limits = self.limits
        if line > limits.max_lines:
            raise _refuse(_("The file has more than %(max)d lines (blank lines included); a roster file has at most "
                            "%(rows)d rows.",
                            max=limits.max_lines, rows=limits.max_rows), status=413)
        cells = _trim(row)
        if not cells:
            return
        _check_cells(line, cells, limits)
        if len(self.rows) > limits.max_rows:  # the heading row and max_rows rows are there already
            raise _refuse(_("The file has more than %(max)d rows; split it.", max=limits.max_rows), status=413)
        self.rows.append((line, cells))


# --- CSV ---------------------------------------------------------------------------------------------------------

def read_csv(data: bytes, limits: Limits = Limits()) -> Rows:
    """The non-blank rows of a CSV file (UTF-8 or Windows-1252; ``;``, ``,`` or tab) with their line numbers."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    sample = text[:4096]
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=";,\t").delimiter
    except csv.Error:
        delimiter = ";" if sample.count(";") >= sample.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    out = _Collector(limits)
    try:
        for row in reader:
            out.add(reader.line_num, row)
    except csv.Error as exc:
        raise _refuse(_("The CSV file cannot be read at line %(line)d: %(reason)s",
                        line=reader.line_num, reason=str(exc))) from exc
    return out.rows


# --- xlsx --------------------------------------------------------------------------------------------------------

_NAME = rb"<(?:[A-Za-z_][\w.\-]{0,30}:)?"
_CELL = re.compile(_NAME + rb"c[\s/>]")
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DIMENSION = re.compile(_NAME + rb"dimension\s[^>]{0,200}?ref\s*=\s*[\"']([^\"'>]{0,40})[\"']")
_REF = re.compile(rb"([A-Za-z]{0,3})(\d{0,9})")
_LOCAL_HEADER = b"PK\x03\x04"
_END_OF_DIRECTORY = b"PK\x05\x06"


def _unreadable() -> DomainError:
    return _refuse(_("The file is not a readable Excel (.xlsx) file."))


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


class _PartScan:
    """Looks at an unpacked part as it streams by: cell elements, DTDs, the sheet's declared dimension."""

    def __init__(self, name: str, limits: Limits) -> None:
        self.name, self.limits = name, limits
        self.carry = b""
        self.cells = 0
        self.seen = 0

    def feed(self, out: bytes) -> None:
        piece = self.carry + out
        if self.seen == 0:
            self._dimension(piece)
        self.seen += len(out)
        cut = piece.rfind(b"<")
        if cut < 0 or len(piece) - cut > 64:  # a tag that starts further back is complete in ``piece``
            cut = len(piece)
        head, self.carry = piece[:cut], piece[cut:]
        self._look(head)

    def close(self) -> None:
        self._look(self.carry)
        self.carry = b""

    def _look(self, head: bytes) -> None:
        if _DTD.search(head):
            raise _refuse(_("The Excel file's part %(part)s declares a DTD or entities; such files are refused "
                            "for safety.", part=self.name))
        self.cells += len(_CELL.findall(head))
        if self.cells > self.limits.max_cells:
            raise _refuse(_("A sheet of the Excel file has more than %(max)d cells; keep only the roster's "
                            "columns, or split the file.", max=self.limits.max_cells), status=413)

    def _dimension(self, head: bytes) -> None:
        m = _DIMENSION.search(head)
        if not m:
            return
        ref = m.group(1).decode("ascii", "replace")
        corners = [_REF.fullmatch(corner.strip()) for corner in m.group(1).split(b":")]
        columns = max((_column_number(c.group(1)) for c in corners if c), default=0)
        rows = max((int(c.group(2) or 0) for c in corners if c), default=0)
        limits = self.limits
        if columns > limits.max_columns:
            raise _refuse(_("The sheet declares %(columns)d columns (%(ref)s); at most %(max)d are read. Delete "
                            "the unused columns, or save the sheet as CSV.", columns=columns, ref=ref,
                            max=limits.max_columns), status=413)
        if rows > limits.max_lines:
            raise _refuse(_("The sheet declares %(rows)d rows (%(ref)s); a roster file has at most %(max)d "
                            "rows. Delete the unused rows, or split the file.", rows=rows, ref=ref,
                            max=limits.max_rows), status=413)


def _part_data(data: bytes, info: zipfile.ZipInfo) -> memoryview:
    """The packed bytes of a part, found through its local header."""
    start = info.header_offset
    header = data[start:start + 30]
    if len(header) < 30 or header[:4] != _LOCAL_HEADER:
        raise _unreadable()
    begin = start + 30 + int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
    end = begin + info.compress_size
    if end > len(data):
        raise _unreadable()
    return memoryview(data)[begin:end]


def _inflate_checked(data: bytes, info: zipfile.ZipInfo, cap: int, limits: Limits) -> int:
    """Unpack one part in steps of :data:`CHUNK` bytes, refusing it past ``cap``; returns its unpacked size.

    The part must unpack to exactly its declared size and CRC, and its Deflate stream must end there: a part
    that says it is small and is not would be unpacked whole by a reader that trusts the declared size.
    """
    packed = _part_data(data, info)
    scan = _PartScan(info.filename, limits)
    size, crc = 0, 0

    def take(out: bytes) -> None:
        nonlocal size, crc
        size += len(out)
        if size > cap or size > info.file_size:
            if size > cap:
                raise _too_large(info.filename, cap)
            raise _refuse(_("The Excel file is damaged: its part %(part)s is larger than the file says.",
                            part=info.filename))
        crc = zlib.crc32(out, crc)
        scan.feed(out)

    if info.compress_type == zipfile.ZIP_STORED:
        for i in range(0, len(packed), CHUNK):
            take(bytes(packed[i:i + CHUNK]))
    else:
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            for i in range(0, len(packed), CHUNK):
                pending = bytes(packed[i:i + CHUNK])
                while pending and not inflater.eof:
                    take(inflater.decompress(pending, CHUNK))
                    pending = inflater.unconsumed_tail
                if inflater.eof:
                    break
            while not inflater.eof:
                out = inflater.decompress(b"", CHUNK)
                if not out:
                    break
                take(out)
        except zlib.error as exc:
            raise _unreadable() from exc
        if not inflater.eof:
            raise _unreadable()
    scan.close()
    if size != info.file_size or crc != info.CRC:
        raise _refuse(_("The Excel file is damaged: its part %(part)s is not what the file says it is.",
                        part=info.filename))
    return size


def _too_large(name: str, cap: int) -> DomainError:
    return _refuse(_("The Excel file's part %(part)s unpacks to more than %(max)d MB; a roster file is much "
                     "smaller.", part=name, max=max(1, cap // MB)), status=413)


def _is_worksheet(name: str) -> bool:
    return name.lower().startswith("xl/worksheets/") and name.lower().endswith(".xml")


def check_xlsx(data: bytes, limits: Limits = Limits()) -> None:
    """Refuse an xlsx file whose parts are too many, too large, too compressed, lying about their size,
    encrypted, packed other than with Deflate, declaring a DTD, or whose sheet declares or holds too many
    cells. Runs in bounded memory: at most one :data:`CHUNK` of unpacked data is held at a time."""
    tail = data[-(22 + 65535):]
    pos = tail.rfind(_END_OF_DIRECTORY)
    if pos < 0 or pos + 22 > len(tail):
        raise _unreadable()
    declared_parts = int.from_bytes(tail[pos + 10:pos + 12], "little")
    if declared_parts > limits.max_parts:
        raise _refuse(_("The Excel file holds %(count)d parts; at most %(max)d are accepted.",
                        count=declared_parts, max=limits.max_parts), status=413)
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise _unreadable() from exc
    if len(infos) > limits.max_parts:
        raise _refuse(_("The Excel file holds %(count)d parts; at most %(max)d are accepted.",
                        count=len(infos), max=limits.max_parts), status=413)
    declared_total = 0
    for info in infos:
        if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _refuse(_("The Excel file is encrypted or packed in an unusual way; save it again from Excel "
                            "as .xlsx."))
        cap = limits.max_part_bytes if _is_worksheet(info.filename) else limits.max_shared_strings_bytes
        if info.file_size > cap:
            raise _too_large(info.filename, cap)
        if info.file_size > MB and info.file_size > limits.max_ratio * max(1, info.compress_size):
            raise _refuse(_("The Excel file's part %(part)s unpacks to %(ratio)d times its packed size; at most "
                            "%(max)d times is accepted.", part=info.filename,
                            ratio=info.file_size // max(1, info.compress_size), max=limits.max_ratio),
                          status=413)
        declared_total += info.file_size
    if declared_total > limits.max_total_bytes:
        raise _refuse(_("The Excel file unpacks to more than %(max)d MB; a roster file is much smaller.",
                        max=limits.max_total_bytes // MB), status=413)
    for info in infos:
        cap = limits.max_part_bytes if _is_worksheet(info.filename) else limits.max_shared_strings_bytes
        _inflate_checked(data, info, cap, limits)


# openpyxl reading hostile XML fails in many ways; each one means the same thing to the user.
_OPENPYXL_ERRORS = (zipfile.BadZipFile, zlib.error, KeyError, ValueError, TypeError, IndexError, AttributeError,
                    OSError, SyntaxError)


def read_xlsx(data: bytes, limits: Limits = Limits()) -> Rows:
    """The non-blank rows of the first sheet of an xlsx file, with their row numbers (checked first)."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    check_xlsx(data, limits)
    out = _Collector(limits)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (*_OPENPYXL_ERRORS, InvalidFileException) as exc:
        raise _unreadable() from exc
    try:
        ws = wb.worksheets[0]
        ws.reset_dimensions()  # the declared size is not trusted: rows are only as wide as asked
        rows = ws.iter_rows(max_col=limits.max_columns, values_only=True)
        for line, row in enumerate(rows, start=1):
            out.add(line, row)
    except DomainError:
        raise
    except _OPENPYXL_ERRORS as exc:
        raise _unreadable() from exc
    finally:
        wb.close()
    return out.rows
