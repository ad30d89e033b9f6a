"""Swedish identity numbers: validation, derived facts, masking, keyed hashing and encryption.

Personal identity numbers (personnummer, samordningsnummer) are 12 digits ``YYYYMMDDNNNN``; the last ten
carry a Luhn check digit; a samordningsnummer has 60 added to the day. The ninth digit (the third of
``NNNN``) is odd for men and even for women. Organisation numbers are ten digits with a Luhn check digit
and a third digit of at least 2.

Every number is read through :func:`normalise_number` before it is validated or hashed, so a number typed
with other Unicode digits (fullwidth, Arabic-Indic, superscript …), other dashes, non-breaking or thin
spaces, or invisible characters (zero-width, bidi controls) is the same number as its plain ASCII form;
whatever is still not ``[0-9]`` (or an allowed separator) afterwards is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass

from flask import current_app


class IdentityError(ValueError):
    """An identity number that is not valid; the message says why in plain words."""


def luhn_ok(digits: str) -> bool:
    """True when the Luhn check digit (the last digit) of ``digits`` is right."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_digit(digits: str) -> str:
    """The Luhn check digit to append to ``digits``."""
    for c in "0123456789":
        if luhn_ok(digits + c):
            return c
    raise AssertionError("unreachable")


#: Why a number with characters other than digits (and its separators) is refused.
NOT_DIGITS = "must be written with the digits 0–9 only"

_MINUS_SIGNS = frozenset("\u2212\u2796\ufe63\uff0d")
_ASCII_DIGITS = frozenset("0123456789")


def _recomposed(text: str) -> str:
    """NFKC once more when dropping a character let two others meet (``A``, zero-width, accent)."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def _fold(value: str | None, space: str) -> str:
    """NFKC; Unicode decimal digits as ASCII; dashes and minus signs as ``-``; format characters (``Cf``)
    dropped; white space of every kind replaced by ``space``; anything else kept as it is."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFKC", value or ""):
        if ch.isascii() and not ch.isspace():
            out.append(ch)
            continue
        cat = unicodedata.category(ch)
        if cat == "Nd":
            out.append(str(unicodedata.decimal(ch)))
        elif cat == "Pd" or ch in _MINUS_SIGNS:
            out.append("-")
        elif cat == "Cf":
            continue
        elif cat in ("Zs", "Zl", "Zp") or ch.isspace():
            out.append(space)
        else:
            out.append(ch)
    return _recomposed("".join(out))


def normalise_number(value: str | None) -> str:
    """The text of a number as typed, made comparable; nothing is refused here.

    NFKC (fullwidth, superscript and circled digits, fullwidth ``+``), every other Unicode decimal digit
    (Arabic-Indic, Devanagari …) as its ASCII digit, every dash or minus sign as ``-``; white space of
    every kind (NBSP, thin space …) and format characters (Unicode ``Cf``: zero-width characters, bidi
    controls, soft hyphen, BOM) dropped. Other characters are kept for the caller to refuse.
    """
    return _fold(value, "")


def normalise_key(value: str | None) -> str:
    """A partner's free-text key (session code, card number, person id) made comparable.

    The same folding as :func:`normalise_number` (NFKC, Unicode digits as ASCII, dashes as ``-``, format
    characters dropped), except that letters stay and other white space becomes a plain space. Printable
    ASCII without surrounding spaces is returned as it is.
    """
    return _fold(value, " ").strip()


def ascii_digits(value: str | None, separators: str = "") -> str:
    """:func:`normalise_number`, then :class:`IdentityError` unless only ``[0-9]`` and ``separators`` remain."""
    text = normalise_number(value)
    allowed = _ASCII_DIGITS | frozenset(separators)
    if any(ch not in allowed for ch in text):
        raise IdentityError(NOT_DIGITS)
    return text


_PNR_RE = re.compile(r"([0-9]{8})[-+]?([0-9]{4})", re.ASCII)
_PNR12_RE = re.compile(r"[0-9]{12}", re.ASCII)


@dataclass(frozen=True)
class PersonalNumber:
    """A validated personal identity number with the facts it carries."""

    number: str  # 12 digits, no separator
    birth_date: dt.date
    sex: str  # 'F' or 'M'
    coordination: bool  # samordningsnummer

    @property
    def masked(self) -> str:
        """The number as shown where it is not needed: ``YYYYMMDD-****``."""
        return mask(self.number)


def parse_personnummer(value: str) -> PersonalNumber:
    """Validate a 12-digit personal or coordination number (a dash or plus is accepted and dropped).

    The value is normalised first (:func:`normalise_number`), so every spelling of a number gives the same
    12 ASCII digits, and with them the same hash.
    """
    raw = ascii_digits(value, "-+")
    m = _PNR_RE.fullmatch(raw)
    if not m:
        raise IdentityError("must be 12 digits, YYYYMMDDNNNN")
    digits = m.group(1) + m.group(2)
    year, month, day = int(digits[0:4]), int(digits[4:6]), int(digits[6:8])
    coordination = day > 60
    if coordination:
        day -= 60
    try:
        birth = dt.date(year, month, day)
    except ValueError as exc:
        raise IdentityError("the date part is not a real date") from exc
    if birth.year < 1880 or birth > dt.date.today():
        raise IdentityError("the birth date is out of range")
    if not luhn_ok(digits[2:]):
        raise IdentityError("the check digit is wrong")
    sex = "M" if int(digits[10]) % 2 == 1 else "F"
    return PersonalNumber(digits, birth, sex, coordination)


def mask(number: str | None) -> str:
    """Show the birth date only: ``20100314-****``."""
    if not number:
        return ""
    return f"{number[:8]}-****"


def normalise_orgnr(value: str) -> str:
    """Validate an organisation number and return its ten digits."""
    raw = ascii_digits(value, "-").replace("-", "")
    if len(raw) == 12 and raw.startswith("16"):
        raw = raw[2:]
    if not re.fullmatch(r"[0-9]{10}", raw, re.ASCII):
        raise IdentityError("must be 10 digits (NNNNNN-NNNN)")
    if int(raw[2]) < 2:
        raise IdentityError("the third digit of an organisation number is at least 2")
    if not luhn_ok(raw):
        raise IdentityError("the check digit is wrong")
    return raw


def format_orgnr(digits: str) -> str:
    """``NNNNNN-NNNN``."""
    return f"{digits[:6]}-{digits[6:]}"


def pnr_hash(number: str, key: str | None = None) -> str:
    """Keyed hash (HMAC-SHA256, hex) of a 12-digit number: the same person matches across tenants.

    Only the canonical 12 ASCII digits are hashed (:func:`parse_personnummer` gives them), so no spelling
    of a number can get a hash of its own.
    """
    if not _PNR12_RE.fullmatch(number):
        raise IdentityError("must be 12 digits, YYYYMMDDNNNN")
    k = key if key is not None else current_app.config["PNR_HASH_KEY"]
    return hmac.new(k.encode(), number.encode(), hashlib.sha256).hexdigest()


def _fernet(key: str | None = None):
    from cryptography.fernet import Fernet

    return Fernet((key if key is not None else current_app.config["PNR_ENCRYPTION_KEY"]).encode())


def encrypt_pnr(number: str, key: str | None = None) -> str:
    """Encrypt a personal number for storage."""
    return _fernet(key).encrypt(number.encode()).decode()


def decrypt_pnr(token: str, key: str | None = None) -> str:
    """Decrypt a stored personal number (for exports that must carry it, e.g. DAK)."""
    return _fernet(key).decrypt(token.encode()).decode()


def age_in_year(birth: dt.date, on: dt.date) -> int:
    """Age reached during the calendar year of ``on`` (session year minus birth year)."""
    return on.year - birth.year


def exact_age(birth: dt.date, on: dt.date) -> int:
    """Age in whole years on the date ``on``."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
