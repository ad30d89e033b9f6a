"""Identity numbers: check digits, derived birth date and sex, masking, keyed hash."""

from __future__ import annotations

import datetime as dt

import pytest

from apn.identity import (
    IdentityError,
    age_in_year,
    exact_age,
    luhn_ok,
    mask,
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
    ("abc", "12 digits"),
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
