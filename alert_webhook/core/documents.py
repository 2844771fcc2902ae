"""How the agency's signed documents write their numbers: the letter number of a resolution report, the
staff number (NIP) of whoever signs, and the Roman numerals of months and quarters.

A report's letter number comes from a configured format (``BATIKNET_REPORT_NUMBER_FORMAT``) with
placeholders in Python's ``str.format`` syntax, a width allowed (``{seq:03d}``):

    {seq}          the report's sequence number in its year (1, 2, ...), kept with the report
    {case_id}      the case's number
    {month}        the month of the report's date, 1-12      {month_roman}  the same in Roman numerals, I-XII
    {year}         the year of the report's date

``555/{seq:03d}/Kominfo/{month_roman}/{year}`` gives ``555/012/Kominfo/XI/2026``. The sequence starts at
1 each year, as an office's register of outgoing letters does, so a format must carry both ``{seq}`` and
``{year}``: together they make every number unique.

A NIP (Nomor Induk Pegawai) has 18 digits: date of birth (8), year and month of appointment (6), sex (1:
male, 2: female) and a sequence (3). It is printed in those groups: ``NIP. 19800101 200501 1 001``.
"""

from __future__ import annotations

import string
from datetime import date

__all__ = [
    "NUMBER_FIELDS",
    "check_number_format",
    "format_nip",
    "letter_number",
    "nip_digits",
    "roman",
]

NUMBER_FIELDS = frozenset({"seq", "case_id", "month", "month_roman", "year"})
REQUIRED_NUMBER_FIELDS = ("seq", "year")
MAX_NUMBER_LENGTH = 100  # the column that keeps an issued number
NIP_GROUPS = (8, 6, 1, 3)

_NUMERALS = ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"),
             (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))  # fmt: skip


def roman(number: int) -> str:
    """``11`` → ``XI``: months in letter numbers, quarters (Triwulan IV)."""
    if not 0 < number < 4000:
        raise ValueError(f"{number} has no Roman numeral")
    text = ""
    for value, numeral in _NUMERALS:
        count, number = divmod(number, value)
        text += numeral * count
    return text


def letter_number(pattern: str, *, seq: int, case_id: int, day: date) -> str:
    """The letter number ``pattern`` gives to the ``seq``-th report of ``day``'s year, about ``case_id``."""
    return pattern.format(
        seq=seq, case_id=case_id, month=day.month, month_roman=roman(day.month), year=day.year
    )


def check_number_format(pattern: str) -> str:
    """``pattern`` if it makes letter numbers; else ValueError saying what is wrong with it."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None}
    except ValueError as error:
        raise ValueError(f"not a format: {error}") from None
    unknown = sorted(fields - NUMBER_FIELDS)
    if unknown:
        known = ", ".join("{" + name + "}" for name in sorted(NUMBER_FIELDS))
        raise ValueError(f"unknown placeholder {{{unknown[0]}}} (known: {known})")
    missing = [name for name in REQUIRED_NUMBER_FIELDS if name not in fields]
    if missing:
        raise ValueError(f"needs {{{missing[0]}}}: {{seq}} and {{year}} together make each number unique")
    try:
        longest = letter_number(pattern, seq=99999, case_id=9999999, day=date(2026, 12, 31))
    except (ValueError, TypeError) as error:
        raise ValueError(f"cannot write a number with it: {error}") from None
    if len(longest) > MAX_NUMBER_LENGTH:
        raise ValueError(f"makes numbers longer than {MAX_NUMBER_LENGTH} characters")
    return pattern


def nip_digits(text: str) -> str:
    """The 18 digits of a NIP written with or without its spaces; ValueError when it is not one."""
    digits = "".join(text.split())
    if not (digits.isascii() and digits.isdigit() and len(digits) == sum(NIP_GROUPS)):
        raise ValueError("a NIP is 18 digits, e.g. 19800101 200501 1 001")
    try:
        date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise ValueError(f"a NIP begins with a date of birth (YYYYMMDD), not {digits[0:8]}") from None
    if not 1 <= int(digits[12:14]) <= 12:
        raise ValueError(f"a NIP's digits 9-14 are the year and month of appointment, not {digits[8:14]}")
    if digits[14] not in "12":
        raise ValueError(f"a NIP's 15th digit is 1 or 2, not {digits[14]}")
    return digits


def format_nip(digits: str) -> str:
    """``198001012005011001`` → ``19800101 200501 1 001``."""
    groups, start = [], 0
    for width in NIP_GROUPS:
        groups.append(digits[start : start + width])
        start += width
    return " ".join(groups)
