"""Replacing a person's identifying values inside stored JSON and text (GDPR erasure)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

REDACTED = "[erased]"
MIN_NEEDLE = 4  # shorter values (initials, country codes) would erase other people's data


def needles_of(values: Sequence[object]) -> list[str]:
    """The distinct identifying strings among `values`, longest first."""
    found = {str(v).strip() for v in values if isinstance(v, str) and len(v.strip()) >= MIN_NEEDLE}
    return sorted(found, key=lambda n: (-len(n), n))


def redact(value: Any, needles: Sequence[str]) -> Any:
    """`value` with every needle (case-insensitive) replaced in every string it holds."""
    if isinstance(value, str):
        lowered = value.lower()
        for needle in needles:
            if needle.lower() in lowered:
                value = re.sub(re.escape(needle), REDACTED, value, flags=re.IGNORECASE)
                lowered = value.lower()
        return value
    if isinstance(value, dict):
        return {key: redact(item, needles) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item, needles) for item in value]
    return value


def stored_forms(needle: str) -> set[str]:
    """How a needle may appear in stored JSON text: as is, \\u-escaped, with escaped slashes
    (WooCommerce's wp_json_encode), for a LIKE pre-filter before the exact redaction."""
    import json

    escaped = json.dumps(needle)[1:-1]
    return {needle, escaped, escaped.replace("/", "\\/")}
