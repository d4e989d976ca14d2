"""The one kernel of types shared by every feature: database column types and edge types.

Edge types are what every schema, path and query parameter is built from, so a rule about
ids, quantities or text is written once:

- ids are 1 ... 2**31 - 1 (PostgreSQL's `integer`); out of range in a path answers 404 (see
  `kosh.core.errors`), in a query or body 422;
- quantities are strict whole numbers of the part's base unit, 1 ... `MAX_QTY` (counts may be 0);
- text never holds NUL or other C0 control characters: `CleanLine` refuses them all,
  `CleanText` (multi-line fields: notes, addresses) allows tab and newline only. Both strip
  surrounding whitespace. Refused text is a 422 naming the field on both engines, so nothing
  with a NUL reaches PostgreSQL (which refuses it) or SQLite (which would store it).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator, Field, StrictInt
from sqlalchemy import JSON
from sqlalchemy.dialects.postgresql import JSONB

# JSONB on PostgreSQL (indexable, compact), JSON text on SQLite.
JSONType: Any = JSON().with_variant(JSONB(), "postgresql")

MAX_ID = 2_147_483_647
MAX_QTY = 1_000_000_000

_CONTROL_LINE = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # tab and newline allowed
_NEWLINES = re.compile(r"\r\n?")


def clean_line(value: str) -> str:
    """Strip; refuse every control character (single-line fields)."""
    value = value.strip()
    if _CONTROL_LINE.search(value):
        raise ValueError("must not contain control characters")
    return value


def clean_text(value: str) -> str:
    """Strip; normalise line ends to `\\n`; refuse control characters but tab and newline."""
    value = _NEWLINES.sub("\n", value).strip()
    if _CONTROL_TEXT.search(value):
        raise ValueError("must not contain control characters other than tab and newline")
    return value


def has_control(value: str) -> bool:
    """True when `value` holds a character no single-line field may store."""
    return _CONTROL_LINE.search(value) is not None


def _required(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    return value


def clean_query(value: str | None) -> str | None:
    """A single-line query parameter: None stays None, else as `clean_line`."""
    return None if value is None else clean_line(value)


def clean_json(value: Any, *, depth: int = 0) -> Any:
    """Free-form JSON (an address): every key and string is single-line clean text
    (`clean_text` for values, so multi-line street lines pass), nesting at most 5 deep."""
    if depth > 5:
        raise ValueError("is nested too deeply")
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean_json(item, depth=depth + 1) for item in value]
    if isinstance(value, dict):
        return {clean_line(str(k)): clean_json(v, depth=depth + 1) for k, v in value.items()}
    return value


def none_if_blank(value: str | None) -> str | None:
    return value or None


def refuse_null(value: Any) -> Any:
    """A PATCH field that may be left out but not sent as null (its column is NOT NULL);
    use as `field_validator(*names, mode="before")(refuse_null)`."""
    if value is None:
        raise ValueError("cannot be null; leave the field out to keep it")
    return value


def is_digits(text: str) -> bool:
    """Only 0-9. `str.isdigit` also says yes to '¹' or '²', which `int()` then refuses."""
    return text.isascii() and text.isdigit()


def like_escape(text: str) -> str:
    """Escape LIKE wildcards; use with `.like(pattern, escape="\\\\")`."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


Id = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
Quantity = Annotated[StrictInt, Field(gt=0, le=MAX_QTY, description="units, 1 to 1e9")]
CountedQuantity = Annotated[StrictInt, Field(ge=0, le=MAX_QTY, description="units, 0 to 1e9")]
Version = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]

# The OpenAPI document states the rule as a pattern, so generated clients (and the fuzzer)
# know it; validation itself is the function (it strips first, and names the problem).
_LINE_SCHEMA = Field(json_schema_extra={"pattern": r"^[^\u0000-\u001f\u007f]*$"})
_TEXT_SCHEMA = Field(json_schema_extra={"pattern": r"^[^\u0000-\u0008\u000b-\u001f\u007f]*$"})
CleanLine = Annotated[str, AfterValidator(clean_line), _LINE_SCHEMA]
RequiredLine = Annotated[
    str, AfterValidator(clean_line), AfterValidator(_required), _LINE_SCHEMA, Field(min_length=1)
]
CleanText = Annotated[str, AfterValidator(clean_text), _TEXT_SCHEMA]
RequiredText = Annotated[
    str, AfterValidator(clean_text), AfterValidator(_required), _TEXT_SCHEMA, Field(min_length=1)
]

# Path and query parameters. Path ids out of range answer 404 (kosh.core.errors).
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
RequiredQueryId = Annotated[int, Query(ge=1, le=MAX_ID)]
# `?part_id=1&part_id=2`: one to 200 ids, each in range.
QueryIdList = Annotated[
    list[Annotated[int, Field(ge=1, le=MAX_ID)]], Query(min_length=1, max_length=200)
]
SearchText = Annotated[str | None, Query(max_length=200), AfterValidator(clean_query)]
