"""Finding the header row and mapping its columns to BOM fields.

Real BOMs put title blocks, parameter blocks and blank rows above the header, and name
columns the way their tool does: KiCad `Reference, Quantity, Value`, JLCPCB `Comment,
Designator, Footprint, LCSC`, Altium `Designator, Quantity, Manufacturer Part Number`,
SolidWorks `ITEM NO., PART NUMBER, QTY.`, assembly-house templates `*Designator, *Qty,
*Mfg Part #`. Headers are normalised (case, `*` required-markers, punctuation, `#` as
"no") and matched against synonyms; the row that names the most fields is the header.

The part number is the one field with fallbacks, in this order: an internal part number
column, the manufacturer part number, a supplier's part number (LCSC, Digi-Key...), the
value / comment / name column. A `Reference` column whose cells are not designators
(`Creality ender 3`) is taken as the part name instead. Every choice can be overridden
by the user's mapping (field -> header text or column letter, or null to unmap).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kosh.bom.cells import as_text, is_placeholder
from kosh.bom.designators import parse_designators
from kosh.bom.spreadsheet import Cell

FIELDS: tuple[str, ...] = (
    "part_number",
    "qty",
    "refdes",
    "description",
    "value",
    "mpn",
    "manufacturer",
    "footprint",
    "notes",
    "dnp",
)
FIELD_LABELS: dict[str, str] = {
    "part_number": "Part number",
    "qty": "Quantity",
    "refdes": "Reference designators",
    "description": "Description",
    "value": "Value",
    "mpn": "Manufacturer part number",
    "manufacturer": "Manufacturer",
    "footprint": "Footprint",
    "notes": "Notes",
    "dnp": "Do not place",
}

_EXACT: dict[str, set[str]] = {
    "refdes": {
        "reference",
        "references",
        "ref",
        "refs",
        "ref des",
        "refdes",
        "ref designator",
        "ref designators",
        "reference designator",
        "reference designators",
        "designator",
        "designators",
        "part reference",
        "part references",
        "position",
        "positions",
        "circuit reference",
        "schematic reference",
    },
    "qty": {
        "qty",
        "quantity",
        "qnty",
        "qty per",
        "quantity per",
        "qty per board",
        "qty per assembly",
        "quantity per assembly",
        "qty per unit",
        "count",
        "amount",
        "qty pcs",
        "pcs",
        "quantity per board",
        "qnt",
        "menge",
        "quantite",
        "units",
    },
    "part_number": {
        "part number",
        "part no",
        "part nr",
        "pn",
        "p n",
        "part",
        "part id",
        "partnumber",
        "internal part number",
        "internal pn",
        "article number",
        "article no",
        "sku",
        "stock code",
        "part code",
        "mypn",
        "our part number",
        "item code",
        "kosh part number",
        "component id",
        "material number",
    },
    "mpn": {
        "mpn",
        "manufacturer part number",
        "manufacturer part no",
        "manufacturer pn",
        "mfr part number",
        "mfr part no",
        "mfr pn",
        "mfr no",
        "mfg part number",
        "mfg part no",
        "mfg pn",
        "manf no",
        "manf part number",
        "manufacturer part",
        "mfrpn",
        "mpn1",
        "catalog part number",
        "catalog number",
        "catalogue number",
    },
    "value": {"value", "val", "comment", "values"},
    "description": {
        "description",
        "desc",
        "descr",
        "description value",
        "part description",
        "item description",
        "component description",
        "designation",
    },
    "footprint": {
        "footprint",
        "package",
        "package footprint",
        "pcb footprint",
        "case",
        "case package",
        "package case",
        "land pattern",
        "footprint name",
    },
    "manufacturer": {
        "manufacturer",
        "mfr",
        "mfg",
        "manf",
        "maker",
        "manufacturer name",
        "mfr name",
        "brand",
        "make",
        "catalog",
        "manufacturer 1",
    },
    "notes": {
        "notes",
        "note",
        "remarks",
        "remark",
        "comments",
        "instructions",
        "your instructions notes",
        "assembly notes",
        "memo",
    },
    "dnp": {"dnp", "do not place", "dnf", "do not fit", "not fitted", "nofit", "no fit"},
}
_SUPPLIER_PN = {
    "lcsc",
    "lcsc part",
    "lcsc part number",
    "lcsc part no",
    "lcsc pn",
    "jlcpcb part",
    "jlc part number",
    "jlcpcb part no",
    "digikey pn",
    "digi key part number",
    "digikey part number",
    "mouser part number",
    "mouser pn",
    "supplier part number",
    "supplier pn",
    "spn",
    "dpn",
    "distributor part number",
    "order code",
    "farnell",
}
_NAME_LIKE = {"name", "part name", "component", "item name", "title", "item", "article"}
_MAKER_WORDS = ("manufacturer", "mfr", "mfg", "manf", "catalog", "catalogue")
_SUPPLIER_WORDS = (
    "supplier",
    "vendor",
    "distributor",
    "lcsc",
    "jlc",
    "jlcpcb",
    "digikey",
    "digi key",
    "mouser",
    "farnell",
    "newark",
    "rs",
)
_AMBIGUOUS_REFDES = {"reference", "references", "ref", "refs"}
HEADER_SCAN_ROWS = 60


def normalise(header: str) -> str:
    text = header.lower().replace("#", " no ").replace("°", "o ").replace("º", "o ")
    text = re.sub(r"[^0-9a-zà-ÿ]+", " ", text)
    text = " ".join(text.split())
    return text.translate(str.maketrans("àâäéèêëîïôöùûüç", "aaaeeeeiioouuuc"))


@dataclass(frozen=True)
class Match:
    field: str
    strength: int  # 3 exact, 2 prefix/suffix rule, 1 weak
    tier: int = 0  # part-number fallback tier (lower is better)


def matches(header: str) -> list[Match]:
    """Every field this header could be, strongest first."""
    name = normalise(header)
    if not name:
        return []
    found: list[Match] = []
    for field, names in _EXACT.items():
        if name in names:
            found.append(Match(field, 3))
    words = name.split()
    if not any(m.field == "refdes" for m in found) and "designator" in name:
        found.append(Match("refdes", 2))
    if not any(m.field == "qty" for m in found) and words[0] in ("qty", "quantity"):
        found.append(Match("qty", 2))
    if not any(m.field in ("part_number", "mpn") for m in found) and (
        name.endswith(("part number", "part no", "part nr", " pn"))
    ):
        if words[0] in _MAKER_WORDS:
            found.append(Match("mpn", 2))
        elif not any(word in _SUPPLIER_WORDS for word in words):
            found.append(Match("part_number", 2))
    if not any(m.field == "description" for m in found) and words[0] == "description":
        found.append(Match("description", 2))
    if not any(m.field == "notes" for m in found) and words[-1] in ("notes", "note"):
        found.append(Match("notes", 2))
    return found


def _is_supplier_pn(header: str) -> bool:
    name = normalise(header)
    if name in _SUPPLIER_PN:
        return True
    words = name.split()
    return (
        bool(words)
        and words[0] in _SUPPLIER_WORDS
        and name.endswith(("part number", "part no", " pn", "part", "no", "number"))
    )


def header_score(cells: Sequence[Cell]) -> int:
    """How many distinct fields the row names (0 or 1 means it is not a header)."""
    fields: set[str] = set()
    key_like = False
    for cell in cells:
        if not isinstance(cell, str):
            continue
        for match in matches(cell):
            fields.add(match.field)
        if _is_supplier_pn(cell) or normalise(cell) in _NAME_LIKE:
            key_like = True
    if not fields & {"refdes", "qty", "part_number", "mpn", "value"} and not key_like:
        return 0
    return len(fields) + (1 if key_like else 0)


def detect_header(rows: Sequence[tuple[int, Sequence[Cell]]]) -> int | None:
    """Index (into `rows`) of the header row among the first rows, or None."""
    best, best_score = None, 1
    for index, (_number, cells) in enumerate(rows[:HEADER_SCAN_ROWS]):
        score = header_score(cells)
        if score > best_score:
            best, best_score = index, score
    return best


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def letter_index(letters: str) -> int | None:
    if not re.fullmatch(r"[A-Z]{1,3}", letters):
        return None
    value = 0
    for char in letters:
        value = value * 26 + (ord(char) - 64)
    return value - 1


Mapping_ = dict[str, int]  # field -> index into a row's cells


def auto_map(headers: Sequence[str], sample: Sequence[Sequence[Cell]] = ()) -> Mapping_:
    """The fields recognised in `headers` (index into the row), with part-number fallbacks."""
    candidates: dict[str, list[tuple[int, int]]] = {}  # field -> [(-strength, index)]
    for index, header in enumerate(headers):
        for match in matches(header):
            candidates.setdefault(match.field, []).append((-match.strength, index))
    mapping: Mapping_ = {}
    used: set[int] = set()
    for field in (
        "refdes",
        "qty",
        "mpn",
        "value",
        "description",
        "footprint",
        "manufacturer",
        "notes",
        "dnp",
    ):
        options = sorted(c for c in candidates.get(field, []) if c[1] not in used)
        if options:
            mapping[field] = options[0][1]
            used.add(options[0][1])
    ranked = [index for _strength, index in sorted(candidates.get("part_number", []))]
    ranked += _part_number_fallbacks(headers, mapping)
    chosen = _best_filled(ranked, sample, set(mapping.values()) | set(ranked))
    if chosen is not None:
        mapping["part_number"] = chosen
    _reconsider_reference(headers, sample, mapping)
    return mapping


def _part_number_fallbacks(headers: Sequence[str], mapping: Mapping_) -> list[int]:
    ranked: list[int] = []
    if "mpn" in mapping:
        ranked.append(mapping["mpn"])
    ranked += [index for index, header in enumerate(headers) if _is_supplier_pn(header)]
    if "value" in mapping:
        ranked.append(mapping["value"])
    ranked += [index for index, header in enumerate(headers) if normalise(header) in _NAME_LIKE]
    return ranked


def _best_filled(
    ranked: list[int], sample: Sequence[Sequence[Cell]], columns: set[int]
) -> int | None:
    """The first candidate that is filled on at least half of the sample rows with data
    (an internal-PN column left mostly empty loses to a filled MPN column)."""
    if not ranked:
        return None
    rows = [row for row in sample if any(as_text(row[i]) for i in columns if i < len(row))]
    for index in ranked:
        filled = sum(
            1
            for row in rows
            if index < len(row) and as_text(row[index]) and not is_placeholder(as_text(row[index]))
        )
        if not rows or filled * 2 >= len(rows):
            return index
    return ranked[0]


def _reconsider_reference(
    headers: Sequence[str], sample: Sequence[Sequence[Cell]], mapping: Mapping_
) -> None:
    """A column called `Reference` that holds names, not designators, is the part name."""
    index = mapping.get("refdes")
    if index is None or normalise(headers[index]) not in _AMBIGUOUS_REFDES:
        return
    values = [as_text(row[index]) for row in sample if index < len(row)]
    values = [value for value in values if value]
    if not values:
        return
    designator_like = sum(1 for value in values if not parse_designators(value).odd)
    if designator_like * 2 >= len(values):
        return
    del mapping["refdes"]
    part = mapping.get("part_number")
    weak = part is None or part in (mapping.get("value"), mapping.get("mpn"))
    if weak and "qty" in mapping:
        mapping["part_number"] = index


class MappingError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def apply_overrides(
    mapping: Mapping_,
    headers: Sequence[str],
    overrides: Mapping[str, str | None],
    *,
    col_offset: int = 0,
) -> Mapping_:
    """The automatic mapping changed by the user's choices (header text or column letter)."""
    result = dict(mapping)
    for field, target in overrides.items():
        if field not in FIELDS:
            raise MappingError(field, f"unknown field {field!r}; use one of {', '.join(FIELDS)}")
        if target is None or (isinstance(target, str) and not target.strip()):
            result.pop(field, None)
            continue
        index = find_column(headers, target, col_offset=col_offset)
        if index is None:
            raise MappingError(field, f"no column {target!r} in the header row")
        result[field] = index
    return result


def find_column(headers: Sequence[str], target: str, *, col_offset: int = 0) -> int | None:
    wanted = target.strip()
    for index, header in enumerate(headers):
        if header.strip() == wanted:
            return index
    normal = normalise(wanted)
    if normal:
        for index, header in enumerate(headers):
            if normalise(header) == normal:
                return index
    absolute = letter_index(wanted.upper())
    if absolute is not None and 0 <= absolute - col_offset < len(headers):
        return absolute - col_offset
    return None
