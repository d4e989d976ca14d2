"""Distributor labels, decoded: pure functions, no database, no I/O.

Two formats are read:

- **ECIA / ISO/IEC 15434** (DigiKey, Mouser, Farnell, Arrow, TTI ...): the envelope
  ``[)>`` RS ``06`` GS field GS field ... RS EOT, where format ``06`` means every field
  starts with an ANSI MH10.8.2 data identifier (digits, then one capital letter):
  ``P`` customer part number, ``1P`` supplier / manufacturer part number, ``30P`` the
  distributor's own part number, ``Q`` quantity, ``K`` customer PO, ``1K`` the
  distributor's order, ``10K`` invoice, ``14K`` PO line, ``1T`` lot, ``9D`` / ``10D``
  date code (YYWW), ``4L`` country of origin, ``1V`` manufacturer.
- **LCSC**: ``{pbn:PICK...,on:SO...,pc:C25804,pm:0603WAF1002T5E,qty:100,...}`` (``pc`` LCSC
  part number, ``pm`` manufacturer part number, ``on`` LCSC order, ``pbn`` pick batch).

Scanners in keyboard mode rarely deliver RS / GS / EOT as themselves: they send caret
notation (``^^``, ``^]``, ``^D``), names in angle or curly brackets (``<GS>``, ``{GS}``),
the Unicode control pictures (``␞ ␝ ␄``), prefix stray characters (Mouser's ``>[)>``), or
drop the envelope's RS. All of these are accepted. A label whose separators were dropped
altogether cannot be split reliably and is refused, like any unknown format: the clerk
types the quantity instead. Anything malformed raises `BarcodeError`; nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kosh.core.types import MAX_QTY

MAX_LENGTH = 3000  # longer than any real label (DigiKey's is ~300 characters)
MAX_VALUE = 100  # longest field value kept

RS, GS, EOT = "\x1e", "\x1d", "\x04"
_VARIANTS: tuple[tuple[str, str], ...] = (
    ("␞", RS),
    ("␝", GS),
    ("␄", EOT),
    ("^^", RS),
    ("^]", GS),
    ("^D", EOT),
)
_NAMED = re.compile(r"[<{\[](RS|GS|EOT)[>}\]]", re.IGNORECASE)
_NAMED_CHARS = {"RS": RS, "GS": GS, "EOT": EOT}
_DATA_IDENTIFIER = re.compile(r"^(\d{0,3}[A-Z])(.*)$", re.DOTALL)
_COUNTRY = re.compile(r"^[A-Z]{2,3}$")
_LCSC = re.compile(r"^\{(.*)\}$", re.DOTALL)

# data identifier -> Label attribute
_ECIA_FIELDS = {
    "P": "customer_part",
    "1P": "mpn",
    "30P": "supplier_sku",
    "K": "po",
    "14K": "po_line",
    "1K": "supplier_order",
    "1T": "lot",
    "9D": "date_code",
    "10D": "date_code",
    "4L": "country",
    "1V": "manufacturer",
}
_LCSC_FIELDS = {
    "pc": "supplier_sku",
    "pm": "mpn",
    "on": "supplier_order",
    "pbn": "lot",
}


class BarcodeError(ValueError):
    """The text is not a label this module can read (`reason` says why, for a person)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Label:
    """What a distributor label says. Quantities are as printed (pieces)."""

    format: str
    qty: int | None = None
    customer_part: str | None = None
    supplier_sku: str | None = None
    mpn: str | None = None
    manufacturer: str | None = None
    po: str | None = None
    po_line: str | None = None
    supplier_order: str | None = None
    lot: str | None = None
    date_code: str | None = None
    country: str | None = None
    fields: tuple[tuple[str, str], ...] = field(default=())

    def part_keys(self) -> list[str]:
        """The identifiers that may name the part, most specific first."""
        keys = [self.supplier_sku, self.mpn, self.customer_part]
        return [key for key in keys if key]


def normalise(text: str) -> str:
    """The scanner's text with every known stand-in replaced by the real RS / GS / EOT."""
    for stand_in, real in _VARIANTS:
        text = text.replace(stand_in, real)
    return _NAMED.sub(lambda m: _NAMED_CHARS[m.group(1).upper()], text)


def decode(text: str) -> Label:
    """Decode an ECIA or LCSC label; BarcodeError when it is neither or is malformed."""
    if not isinstance(text, str):
        raise BarcodeError("a label is text")
    if len(text) > MAX_LENGTH:
        raise BarcodeError(f"longer than {MAX_LENGTH} characters")
    if "\x00" in text:
        raise BarcodeError("contains a NUL character")
    text = normalise(text.strip().strip("\r\n"))
    start = text.find("[)>")
    if 0 <= start <= 3:
        return _decode_ecia(text[start + 3 :])
    if _LCSC.match(text):
        return _decode_lcsc(text)
    raise BarcodeError("not a distributor label this scanner page can read")


def _decode_ecia(body: str) -> Label:
    body = body.removeprefix(RS)
    if not body.startswith("06"):
        raise BarcodeError("only ECIA format 06 (data identifiers) is read")
    body = body[2:]
    end = body.find(RS)
    if end >= 0:
        body = body[:end]  # RS EOT closes the envelope; anything after it is ignored
    body = body.rstrip(EOT)
    if not body.startswith(GS):
        raise BarcodeError("the field separators (GS) are missing")
    values: dict[str, str] = {}
    pairs: list[tuple[str, str]] = []
    for raw in body[1:].split(GS):
        if not raw:
            continue
        match = _DATA_IDENTIFIER.match(raw)
        if match is None:
            raise BarcodeError(f"a field without a data identifier: {_shown(raw)}")
        identifier, value = match.group(1), _value(match.group(2))
        pairs.append((identifier, value))
        if identifier == "Q":
            values["qty"] = value
        elif identifier in _ECIA_FIELDS:
            values.setdefault(_ECIA_FIELDS[identifier], value)
    return _label("ecia", values, pairs)


def _decode_lcsc(text: str) -> Label:
    inner = text[1:-1]
    values: dict[str, str] = {}
    pairs: list[tuple[str, str]] = []
    for raw in inner.split(","):
        if not raw.strip():
            continue
        key, sep, value = raw.partition(":")
        key = key.strip()
        if not sep or not key.isalnum() or len(key) > 16:
            raise BarcodeError(f"an LCSC field without a name: {_shown(raw)}")
        value = _value(value.strip())
        pairs.append((key, value))
        if key == "qty":
            values["qty"] = value
        elif key in _LCSC_FIELDS:
            values.setdefault(_LCSC_FIELDS[key], value)
    if "supplier_sku" not in values and "mpn" not in values:
        raise BarcodeError("an LCSC label without part number (pc or pm)")
    return _label("lcsc", values, pairs)


def _label(kind: str, values: dict[str, str], pairs: list[tuple[str, str]]) -> Label:
    qty_text = values.pop("qty", None)
    qty = _qty(qty_text) if qty_text else None
    country = values.get("country")
    if country is not None and not _COUNTRY.match(country.upper()):
        values.pop("country")  # a malformed country is not worth refusing the bag for
    elif country is not None:
        values["country"] = country.upper()
    clean = {key: value for key, value in values.items() if value}
    if not clean and qty is None:
        raise BarcodeError("the label holds no part number and no quantity")
    return Label(format=kind, qty=qty, fields=tuple(pairs), **clean)


def _qty(text: str) -> int:
    digits = text.replace(",", "").strip()
    if not digits.isascii() or not digits.isdigit() or len(digits) > 10:
        raise BarcodeError(f"the quantity {_shown(text)} is not a whole number")
    qty = int(digits)
    if not 0 < qty <= MAX_QTY:
        raise BarcodeError(f"the quantity {qty} is out of range (1 to {MAX_QTY})")
    return qty


def _value(text: str) -> str:
    """A field value as stored: printable only, bounded."""
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise BarcodeError(f"a field holds a control character: {_shown(text)}")
    return text.strip()[:MAX_VALUE]


def _shown(text: str) -> str:
    return repr(text[:40])


def encode_ecia(pairs: list[tuple[str, str]]) -> str:
    """An ECIA format 06 label of these (data identifier, value) pairs (for tests, demos)."""
    return "[)>" + RS + "06" + "".join(GS + di + value for di, value in pairs) + RS + EOT
