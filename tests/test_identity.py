"""Identity numbers: check digits, derived birth date and sex, masking, keyed hash, and the normaliser that
makes every spelling of a number (other Unicode digits, spaces, invisible characters) the same number."""

from __future__ import annotations

import datetime as dt
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apn.identity import (
    NOT_DIGITS,
    IdentityError,
    age_in_year,
    ascii_digits,
    exact_age,
    luhn_digit,
    luhn_ok,
    mask,
    normalise_key,
    normalise_number,
    normalise_orgnr,
    parse_personnummer,
    pnr_hash,
)


def test_valid_personnummer_gives_birth_date_and_sex():
    pn = parse_personnummer("19811218-9876")  # Skatteverket's example number
    assert pn.number == "198112189876"
    assert pn.birth_date == dt.date(1981, 12, 18)
    assert pn.sex == "M"  # 7 is odd
    assert not pn.coordination
    assert pn.masked == "19811218-****"


def test_samordningsnummer_has_day_plus_60():
    digits = "19701063"  # born 1970-10-03
    from apn.identity import luhn_digit

    number = digits + "238" + luhn_digit(digits[2:] + "238")
    pn = parse_personnummer(number)
    assert pn.coordination and pn.birth_date == dt.date(1970, 10, 3) and pn.sex == "F"


@pytest.mark.parametrize("value, why", [
    ("198112189875", "check digit"),
    ("19811318-9876", "real date"),
    ("8112189876", "12 digits"),
    ("abc", "digits 0–9 only"),
    ("", "12 digits"),
    (f"{dt.date.today().year + 1}0101-0000", "out of range"),
])
def test_invalid_personnummer_says_why(value, why):
    with pytest.raises(IdentityError, match=why):
        parse_personnummer(value)


def test_organisation_number():
    from apn.identity import luhn_digit

    good = "802479" + "388" + luhn_digit("802479388")
    assert luhn_ok(good)
    assert normalise_orgnr(f"{good[:6]}-{good[6:]}") == good
    assert normalise_orgnr("16" + good) == good
    bad_check = good[:-1] + str((int(good[-1]) + 1) % 10)
    with pytest.raises(IdentityError, match="check digit"):
        normalise_orgnr(bad_check)
    low_third = "801479388" + luhn_digit("801479388")
    with pytest.raises(IdentityError, match="third digit"):
        normalise_orgnr(low_third)
    with pytest.raises(IdentityError, match="10 digits"):
        normalise_orgnr("12345")


def test_mask_hash_and_ages():
    assert mask("201003141234") == "20100314-****"
    assert mask(None) == ""
    h1 = pnr_hash("198112189876", key="k1")
    assert h1 == pnr_hash("198112189876", key="k1") != pnr_hash("198112189876", key="k2")
    assert "198112189876" not in h1
    born = dt.date(2013, 12, 31)
    assert age_in_year(born, dt.date(2025, 1, 1)) == 12
    assert exact_age(born, dt.date(2025, 1, 1)) == 11


# --- one number, one spelling: the normaliser ------------------------------------------------------------

_ALL = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
#: The zero of every Unicode decimal digit system (ASCII, fullwidth, Arabic-Indic, Devanagari, Thai, math …).
ZEROS = [ch for ch in _ALL if unicodedata.category(ch) == "Nd" and unicodedata.decimal(ch) == 0]
#: Every invisible or format character (zero-width, bidi marks and controls, soft hyphen, BOM, tags …).
FORMAT = [ch for ch in _ALL if unicodedata.category(ch) == "Cf"]
#: Every space separator (NBSP, thin, ideographic …) and the other white space.
SPACES = [ch for ch in _ALL if unicodedata.category(ch) in ("Zs", "Zl", "Zp")] + list("\t\n\r\x0b\x0c")
#: Every dash and minus sign.
DASHES = [ch for ch in _ALL if unicodedata.category(ch) == "Pd"] + ["\u2212", "\uff0d", "\ufe63"]
SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹"


def test_the_character_classes_are_not_empty():
    assert len(ZEROS) > 60 and "\uff10" in ZEROS and "\u0660" in ZEROS and "\u0966" in ZEROS
    assert {"\u200b", "\u200e", "\u202e", "\u2066", "\ufeff", "\u00ad"} <= set(FORMAT)
    assert {"\u00a0", "\u2009", "\u202f", "\u3000"} <= set(SPACES)


@st.composite
def personal_numbers(draw) -> str:
    """A valid 12-digit number (personal or coordination)."""
    birth = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date.today()))
    day = birth.day + (60 if draw(st.booleans()) else 0)
    serial = draw(st.integers(0, 999))
    body = f"{birth:%Y%m}{day:02d}{serial:03d}"
    return body + luhn_digit(body[2:])


@st.composite
def spellings(draw, number: str, separator_at: int, plus: bool = True) -> str:
    """``number`` with each digit in any digit system (or superscript), invisible characters and spaces
    anywhere, and perhaps a dash (or with ``plus`` a plus sign) of any kind at ``separator_at``."""
    out = []
    for i, c in enumerate(number):
        if i == separator_at and draw(st.booleans()):
            out.append(draw(st.sampled_from([*DASHES, *(["+", "\uff0b"] if plus else [])])))
        kind = draw(st.sampled_from(["ascii", "system", "superscript"]))
        if kind == "system":
            out.append(chr(ord(draw(st.sampled_from(ZEROS))) + int(c)))
        elif kind == "superscript":
            out.append(SUPERSCRIPTS[int(c)])
        else:
            out.append(c)
        out.extend(draw(st.lists(st.sampled_from(FORMAT + SPACES), max_size=2)))
    return "".join(out)


@settings(max_examples=300, deadline=None)
@given(st.data(), personal_numbers())
def test_every_spelling_of_a_personal_number_is_the_same_number_and_hash(data, number):
    typed = data.draw(spellings(number, 8))
    pn = parse_personnummer(typed)
    assert pn.number == number and pn.number.isascii()
    assert pnr_hash(pn.number, key="k") == pnr_hash(number, key="k")


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_every_spelling_of_an_organisation_number_is_the_same_number(data):
    body = data.draw(st.from_regex(r"[0-9]{2}[2-9][0-9]{6}", fullmatch=True))
    number = body + luhn_digit(body)
    assert normalise_orgnr(data.draw(spellings(number, 6, plus=False))) == number


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=30))
def test_any_text_is_a_plain_number_or_refused_with_a_reason(text):
    for check in (parse_personnummer, normalise_orgnr):
        try:
            value = check(text)
        except IdentityError as exc:
            assert str(exc)  # a reason, never another exception
            continue
        digits = value.number if hasattr(value, "number") else value
        assert digits.isascii() and digits.isdigit()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_the_normalisers_are_idempotent_and_leave_no_invisible_characters(text):
    once = normalise_number(text)
    assert normalise_number(once) == once
    assert not any(unicodedata.category(ch) in ("Cf", "Zs", "Nd") and not ch.isascii() for ch in once)
    key = normalise_key(text)
    assert normalise_key(key) == key
    assert not any(unicodedata.category(ch) == "Cf" for ch in key)


@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=50))
def test_a_printable_ascii_key_is_left_as_it_is(key):
    assert normalise_key(key) == key  # the API's fast path for plain marks relies on this


@pytest.mark.parametrize("value", [
    "20120517-03a7", "201205170317\u0301", "Ⅻ" * 12, "20120517/0317", "20120517\x000317", "2012.05.17-0317",
    "\U0001f51f" * 12,  # keycap ten
])
def test_what_is_still_not_a_digit_is_refused_with_the_reason(value):
    with pytest.raises(IdentityError, match=NOT_DIGITS):
        parse_personnummer(value)


def test_separators_keep_their_place_and_ten_digits_stay_refused():
    n = "201205170317" if luhn_ok("1205170317") else None
    number = n or ("20120517031" + luhn_digit("120517031"))
    assert parse_personnummer(number[:8] + "+" + number[8:]).number == number  # '+' only separates here
    with pytest.raises(IdentityError, match="12 digits"):
        parse_personnummer(number[2:8] + "+" + number[8:])  # 10 digits (a '+' for 100 years) is not read
    with pytest.raises(IdentityError, match="12 digits"):
        parse_personnummer(number[:4] + "-" + number[4:])
    assert ascii_digits("１２-３", "-") == "12-3"
    with pytest.raises(IdentityError, match=NOT_DIGITS):
        ascii_digits("12-3")


def test_only_the_canonical_number_is_hashed():
    with pytest.raises(IdentityError):
        pnr_hash("\uff11" * 12, key="k")
    with pytest.raises(IdentityError):
        pnr_hash("19811218-9876", key="k")
