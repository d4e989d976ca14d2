"""Supplier parts as CSV: the export's rows and the import's parser (pure, no database).

Columns: supplier_code, part_number, sku, manufacturer, mpn, pack_size, pack_unit,
min_order_qty, lead_time_days, preferred, prices. `prices` holds the breaks as
``min_qty:unit_price`` pairs separated by ``;`` (``1:0.1000;100:0.0800``). Exported cells
that a spreadsheet would run as a formula are prefixed with ``'`` (CSV injection), and the
import strips that prefix again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from kosh.core import messages
from kosh.core.errors import ValidationError, field_error
from kosh.purchasing.schemas import SupplierPartCreate
from kosh.purchasing.suppliers import Offer

COLUMNS = (
    "supplier_code",
    "part_number",
    "sku",
    "manufacturer",
    "mpn",
    "pack_size",
    "pack_unit",
    "min_order_qty",
    "lead_time_days",
    "preferred",
    "prices",
)
MAX_ROWS = 5000
_INT_COLUMNS = ("pack_size", "min_order_qty", "lead_time_days")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in _FORMULA else text


def row_line(values: Iterable[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([_cell(v) for v in values])
    return buffer.getvalue()


def export_row(offer: Offer) -> list[object]:
    sp = offer.supplier_part
    return [
        offer.supplier.code,
        offer.part.number,
        sp.sku,
        sp.manufacturer,
        sp.mpn,
        sp.pack_size,
        sp.pack_unit,
        sp.min_order_qty,
        sp.lead_time_days,
        "true" if sp.preferred else "false",
        prices_cell((p.min_qty, p.unit_price) for p in sp.prices),
    ]


def header_line() -> str:
    return row_line(COLUMNS)


def prices_cell(prices: Iterable[tuple[int, object]]) -> str:
    return ";".join(f"{qty}:{price}" for qty, price in prices)


def _uncell(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:2] in _FORMULA else text


def _parse_prices(text: str) -> list[dict[str, object]]:
    prices: list[dict[str, object]] = []
    for pair in filter(None, (p.strip() for p in text.split(";"))):
        qty, sep, price = pair.partition(":")
        if not sep:
            raise ValueError("write price breaks as min_qty:unit_price;min_qty:unit_price")
        qty = qty.strip()
        number: object = int(qty) if qty.isascii() and qty.isdigit() and len(qty) < 12 else qty
        prices.append({"min_qty": number, "unit_price": price.strip()})
    return prices


def parse(text: str) -> list[SupplierPartCreate]:
    """The rows of an import, validated; 422 naming row and column of the first problems.
    The header must hold at least supplier_code, part_number and sku."""
    if "\x00" in text:
        raise ValidationError("The file holds NUL characters.", code="csv_invalid")
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = {"supplier_code", "part_number", "sku"} - set(header)
    if missing:
        raise ValidationError(
            f"The header lacks {', '.join(sorted(missing))}.",
            code="csv_invalid",
            errors=[field_error(["csv", "header"], f"missing {m}") for m in sorted(missing)],
        )
    unknown = set(header) - set(COLUMNS)
    if unknown:
        raise ValidationError(
            f"Unknown columns: {', '.join(sorted(unknown))}.",
            code="csv_invalid",
            errors=[field_error(["csv", "header"], f"unknown column {u}") for u in sorted(unknown)],
        )
    rows: list[SupplierPartCreate] = []
    problems: list[dict[str, Any]] = []
    try:
        for number, raw in enumerate(reader, start=2):
            if number - 1 > MAX_ROWS:
                raise ValidationError(
                    f"At most {MAX_ROWS} rows per import.", code="csv_too_many_rows"
                )
            if len(problems) >= 20:
                break
            data: dict[str, Any] = {}
            for key, value in raw.items():
                if key is None or value is None:
                    problems.append(field_error(["csv", number], "wrong number of cells"))
                    break
                value = _uncell(value.strip())
                if value == "":
                    continue
                if key.strip() in _INT_COLUMNS:
                    data[key.strip()] = (
                        int(value)
                        if value.isascii() and value.isdigit() and len(value) < 12
                        else value
                    )
                elif key.strip() == "preferred":
                    data["preferred"] = value.lower() in ("1", "true", "yes", "y")
                elif key.strip() == "prices":
                    try:
                        data["prices"] = _parse_prices(value)
                    except ValueError as exc:
                        problems.append(field_error(["csv", number, "prices"], str(exc)))
                else:
                    data[key.strip()] = value
            try:
                rows.append(SupplierPartCreate.model_validate(data))
            except PydanticValidationError as exc:
                for error in exc.errors()[:5]:
                    loc = [str(part) for part in error["loc"]]
                    problems.append(field_error(["csv", number, *loc], messages.for_error(error)))
    except csv.Error as exc:
        raise ValidationError(f"Not readable as CSV: {exc}.", code="csv_invalid") from exc
    if problems:
        raise ValidationError(
            f"{len(problems)} problem(s) in the file; nothing was imported.",
            code="csv_invalid",
            errors=problems[:20],
        )
    return rows
