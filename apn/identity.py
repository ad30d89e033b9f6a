"""Swedish identity numbers: validation, derived facts, masking, keyed hashing and encryption.

Personal identity numbers (personnummer, samordningsnummer) are 12 digits ``YYYYMMDDNNNN``; the last ten
carry a Luhn check digit; a samordningsnummer has 60 added to the day. The ninth digit (the third of
``NNNN``) is odd for men and even for women. Organisation numbers are ten digits with a Luhn check digit
and a third digit of at least 2.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
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


_PNR_RE = re.compile(r"^(\d{8})[-+]?(\d{4})$")


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
    """Validate a 12-digit personal or coordination number (a dash or plus is accepted and dropped)."""
    raw = (value or "").strip().replace(" ", "")
    m = _PNR_RE.match(raw)
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
    raw = (value or "").strip().replace("-", "").replace(" ", "")
    if len(raw) == 12 and raw.startswith("16"):
        raw = raw[2:]
    if not re.fullmatch(r"\d{10}", raw):
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
    """Keyed hash (HMAC-SHA256, hex) of a 12-digit number: the same person matches across tenants."""
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
