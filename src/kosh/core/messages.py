"""One catalogue of plain-language messages for input that is refused.

The server turns every validation error (pydantic's types such as `less_than_equal` or
`string_pattern_mismatch`) into a sentence from `CATALOGUE`; the pages receive the same
catalogue (base.html puts it in a `<meta name="kosh-messages">`, forms.js reads it), so
the browser's own checks say exactly what the server would. No regex and no framework
wording ever reaches a person; numbers are written the same way on both sides
(`format_number`: digits grouped by commas, as `Intl.NumberFormat("en-US")` does).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from typing import Any

CATALOGUE: dict[str, str] = {
    "required": "Fill in this field.",
    "whole_number": "Enter a whole number, like 12.",
    "number": "Enter a number, like 12.50.",
    "at_least": "Enter {limit} or more.",
    "at_most": "Enter {limit} or less.",
    "more_than": "Enter more than {limit}.",
    "less_than": "Enter less than {limit}.",
    "too_long": "Use {limit} characters or fewer.",
    "too_short": "Use at least {limit} characters.",
    "too_many": "Give {limit} or fewer.",
    "too_few": "Give at least {limit}.",
    "choice": "Choose one of the listed options.",
    "yes_no": "Choose yes or no.",
    "date": "Enter a date as YYYY-MM-DD, like 2026-03-31.",
    "datetime": "Enter a date and time, like 2026-03-31 14:30.",
    "text": "Enter text here.",
    "email": "Enter an email address, like name@example.com.",
    "format": "This value has characters that are not allowed here.",
    "code": (
        "Start with a letter or digit; then use letters, digits, dots, underscores and hyphens."
    ),
    "code_slash": (
        "Start with a letter or digit; then use letters, digits, dots, underscores, slashes "
        "and hyphens."
    ),
    "currency": "Use a three-letter currency code in capitals, like EUR.",
    "country": "Use a two- or three-letter country code in capitals, like DE.",
    "time": "Enter a time as HH:MM, like 06:30.",
    "letter": "Enter one letter, A to Z.",
    "unknown_field": "This field is not expected here.",
    "invalid": "This value is not valid here.",
    "session_expired": "Your session has ended, so nothing was saved. Log in again to continue.",
    "log_in": "Log in",
    "network": "Network problem: nothing was confirmed. Check the connection and retry.",
    "refused": "The request was refused.",
}

# Known patterns of the edge types and schemas, described in words.
PATTERN_KEYS: dict[str, str] = {
    r"^[A-Za-z0-9][A-Za-z0-9._-]*$": "code",
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$": "code",
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$": "code",
    r"^[A-Za-z0-9][A-Za-z0-9._/-]*$": "code_slash",
    r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$": "code_slash",
    r"^[A-Z]{3}$": "currency",
    r"^[A-Z]{2,3}$": "country",
    r"^([01][0-9]|2[0-3]):[0-5][0-9]$": "time",
    r"^[A-Za-z]$": "letter",
}

# pydantic error type -> (catalogue key, the ctx value that fills {limit})
_TYPES: dict[str, tuple[str, str | None]] = {
    "missing": ("required", None),
    "int_parsing": ("whole_number", None),
    "int_type": ("whole_number", None),
    "int_from_float": ("whole_number", None),
    "int_parsing_size": ("whole_number", None),
    "float_parsing": ("number", None),
    "float_type": ("number", None),
    "decimal_parsing": ("number", None),
    "decimal_type": ("number", None),
    "decimal_max_digits": ("number", None),
    "decimal_max_places": ("number", None),
    "decimal_whole_digits": ("number", None),
    "finite_number": ("number", None),
    "greater_than_equal": ("at_least", "ge"),
    "less_than_equal": ("at_most", "le"),
    "greater_than": ("more_than", "gt"),
    "less_than": ("less_than", "lt"),
    "string_too_long": ("too_long", "max_length"),
    "string_too_short": ("too_short", "min_length"),
    "too_long": ("too_many", "max_length"),
    "too_short": ("too_few", "min_length"),
    "enum": ("choice", None),
    "literal_error": ("choice", None),
    "bool_parsing": ("yes_no", None),
    "bool_type": ("yes_no", None),
    "date_parsing": ("date", None),
    "date_from_datetime_parsing": ("date", None),
    "date_from_datetime_inexact": ("date", None),
    "date_type": ("date", None),
    "datetime_parsing": ("datetime", None),
    "datetime_from_date_parsing": ("datetime", None),
    "datetime_type": ("datetime", None),
    "string_type": ("text", None),
    "string_unicode": ("text", None),
    "extra_forbidden": ("unknown_field", None),
}
VALUE_ERROR_PREFIXES = ("Value error, ", "Assertion failed, ")


def format_number(value: object) -> str:
    """1234567 -> "1,234,567"; 2.5 -> "2.5": as the pages' Intl.NumberFormat("en-US")."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, float | Decimal) and value != int(value):
        return f"{value:,}"
    return f"{int(value):,}"


def message(key: str, **values: object) -> str:
    """The catalogue's sentence for `key`, numbers formatted by `format_number`."""
    return CATALOGUE[key].format(**{k: format_number(v) for k, v in values.items()})


def _limit(error_type: str, ctx: Mapping[str, Any]) -> tuple[str, object]:
    """An integer "more than 0" is "1 or more": what a person would say."""
    key, name = _TYPES[error_type]
    value = ctx.get(name) if name else None
    if key == "more_than" and isinstance(value, int):
        return "at_least", value + 1
    if key == "less_than" and isinstance(value, int):
        return "at_most", value - 1
    return key, value


def for_error(error: Mapping[str, Any]) -> str:
    """The plain-language message for one pydantic error (as `exc.errors()` lists them)."""
    error_type = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if error_type == "string_pattern_mismatch":
        return message(PATTERN_KEYS.get(str(ctx.get("pattern", "")), "format"))
    if error_type in ("value_error", "assertion_error"):
        text = str(error.get("msg", ""))
        for prefix in VALUE_ERROR_PREFIXES:
            text = text.removeprefix(prefix)
        if not text:
            return message("invalid")
        return text[0].upper() + text[1:] + ("" if text.endswith((".", "?", "!")) else ".")
    if error_type in _TYPES:
        key, value = _limit(error_type, ctx)
        return message(key, limit=value) if value is not None else message(key)
    return message("invalid")


@cache
def catalogue_json() -> str:
    """The catalogue for the pages (forms.js), as compact JSON."""
    return json.dumps(CATALOGUE, separators=(",", ":"), ensure_ascii=False)
