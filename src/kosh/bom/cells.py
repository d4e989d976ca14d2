"""Cell values as BOM data: text that looks like what the sheet shows, and quantities.

Quantities are whole numbers of a part's base unit (the stock invariant), so a cell must
hold a positive whole number: `4`, `4.0`, `"15"`, `" 3 "`. A fraction (`1.2` kg of
filament, `0.5` m of wire) is refused with a message naming the fix (record the part in
a smaller base unit: g, mm). Text, dates and booleans in the quantity column are
reported, never crashed on.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from kosh.bom.spreadsheet import Cell
from kosh.core.types import MAX_QTY as MAX_QTY  # re-exported: bomfile imports it from here

_INT_TEXT = re.compile(r"^\+?\d{1,12}(?:[.,]0+)?$")
_DECIMAL_TEXT = re.compile(r"^\+?\d{0,12}[.,]\d+$")
_CONTROL = dict.fromkeys(c for c in range(32) if chr(c) not in "\t\n")


def as_text(value: Cell) -> str:
    """A cell as trimmed text: integral floats without '.0', dates in ISO form."""
    if type(value) is str:
        # The common case, kept cheap: printable ASCII needs no normalising.
        if value.isascii() and value.isprintable():
            return value.strip()
        return _clean_text(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, int):
        return str(value)
    return _clean_text(str(value))


def _clean_text(value: str) -> str:
    # Not the edge rule (kosh.core.types refuses control characters): a cell read from a
    # file is data to import, so its stray control characters are dropped, not refused.
    text = unicodedata.normalize("NFC", value).translate(_CONTROL)
    return " ".join(text.split()) if "\n" in text or "\t" in text else text.strip()


def is_blank(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@dataclass(frozen=True)
class Quantity:
    value: int | None
    error: str | None = None


def parse_quantity(value: Cell) -> Quantity:
    """A positive whole number, or the reason the cell is not one (None value if blank)."""
    if type(value) is int:
        return _checked(value)
    if type(value) is float and value.is_integer():
        return _checked(int(value))
    if type(value) is str and value.isascii() and value.isdigit():
        return _checked(int(value))
    if is_blank(value):
        return Quantity(None)
    if isinstance(value, bool):
        return Quantity(None, f"'{as_text(value)}' is not a quantity")
    if isinstance(value, datetime | date | time | timedelta):
        return Quantity(None, f"a date or time ({as_text(value)}) is not a quantity")
    number: int
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            return Quantity(None, "the quantity is not a finite number")
        if not value.is_integer():
            return Quantity(None, _fraction_message(as_text(value)))
        number = int(value)
    else:
        text = as_text(value).replace("\u2212", "-")
        if _INT_TEXT.match(text):
            number = int(re.split(r"[.,]", text.lstrip("+"))[0])
        elif _DECIMAL_TEXT.match(text):
            return Quantity(None, _fraction_message(text))
        elif re.match(r"^-\d", text):
            return Quantity(None, f"the quantity must be positive, not {text}")
        else:
            shown = text if len(text) <= 40 else text[:37] + "..."
            return Quantity(None, f"'{shown}' in the quantity column is not a number")
    return _checked(number)


def _checked(number: int) -> Quantity:
    if number <= 0:
        return Quantity(None, f"the quantity must be positive, not {number}")
    if number > MAX_QTY:
        return Quantity(None, f"the quantity {number:,} is larger than {MAX_QTY:,}")
    return Quantity(number)


def _fraction_message(text: str) -> str:
    return (
        f"{text} is not a whole number: KOSH counts whole units of a part's base unit; "
        "record the part in a smaller unit (e.g. g instead of kg, mm instead of m)"
    )


PLACEHOLDERS = {"any", "dnp", "dnf", "~", "-", "--", "n/a", "na", "tbd", "none", "?", "x", "nc"}


def is_placeholder(text: str) -> bool:
    """'ANY', 'DNP', '~', 'n/a'...: a tool's way of saying 'no part number here'."""
    return text.strip().lower() in PLACEHOLDERS


_TRUTHY = {"x", "y", "yes", "1", "true", "dnp", "dnf", "nf", "not fitted", "do not place"}


def is_marked(value: Cell) -> bool:
    """True for a 'do not place' mark (X, yes, 1, true, DNP...)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return as_text(value).lower() in _TRUTHY
