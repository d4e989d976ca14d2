"""Reference designators: `C1 C2,C3; R1-R4` into one normalised list, ranges expanded.

CAD tools separate designators with spaces, commas or semicolons (often with a trailing
separator) and some write ranges (`R1-R4`, `R1-4`, `R1..R4`). A range is expanded so the
count can be checked against the quantity; an absurd range is refused rather than
expanded (a hostile `R1-R999999999` must not allocate a billion strings).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_DESIGNATORS_PER_CELL = 10_000
_SPLIT = re.compile(r"[\s,;]+")
_DESIGNATOR = re.compile(r"^[A-Za-z][A-Za-z_$]*\d+[A-Za-z]?$|^[A-Za-z]+[_\-.]?\d+(?:[_.]\d+)*$")
_RANGE = re.compile(r"^([A-Za-z][A-Za-z_]*)(\d+)(?:-|\.\.|\u2013)([A-Za-z][A-Za-z_]*)?(\d+)$")


@dataclass
class Designators:
    names: list[str] = field(default_factory=list)
    odd: list[str] = field(default_factory=list)  # tokens that do not look like designators
    error: str | None = None


_SIMPLE = re.compile(r"^[A-Za-z]+\d+(?:[\s,;]+[A-Za-z]+\d+)*[\s,;]*$")


def parse_designators(text: str) -> Designators:
    result = Designators()
    if not text:
        return result
    if len(text) < 100_000 and _SIMPLE.match(text):  # plain lists: no ranges, nothing odd
        result.names = [token for token in _SPLIT.split(text) if token]
        if len(result.names) > MAX_DESIGNATORS_PER_CELL:
            result.names = []
            result.error = f"more than {MAX_DESIGNATORS_PER_CELL:,} designators in one cell"
        return result
    for token in _SPLIT.split(text.strip()):
        if not token:
            continue
        ranged = _RANGE.match(token)
        if ranged:
            prefix, first, other_prefix, last = ranged.groups()
            if other_prefix and other_prefix != prefix:
                result.odd.append(token)
                result.names.append(token)
                continue
            low, high = int(first), int(last)
            if high < low:
                result.error = f"the range {token} runs backwards"
                return result
            if high - low + 1 + len(result.names) > MAX_DESIGNATORS_PER_CELL:
                result.error = (
                    f"the range {token} names more than {MAX_DESIGNATORS_PER_CELL:,} designators"
                )
                return result
            result.names.extend(f"{prefix}{n}" for n in range(low, high + 1))
            continue
        if not _DESIGNATOR.match(token):
            result.odd.append(token)
        result.names.append(token)
        if len(result.names) > MAX_DESIGNATORS_PER_CELL:
            result.error = f"more than {MAX_DESIGNATORS_PER_CELL:,} designators in one cell"
            return result
    return result
