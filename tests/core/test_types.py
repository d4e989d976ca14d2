"""The edge-type kernel (kosh.core.types): properties that hold for any input."""

from __future__ import annotations

import re
import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kosh.core.types import (
    clean_json,
    clean_line,
    clean_text,
    has_control,
    is_digits,
    like_escape,
)

CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@given(st.text())
def test_clean_line_never_lets_a_control_character_through(value: str) -> None:
    try:
        cleaned = clean_line(value)
    except ValueError:
        assert CONTROL.search(value.strip())
    else:
        assert not CONTROL.search(cleaned)
        assert cleaned == value.strip()
        assert not has_control(cleaned)


@given(st.text())
def test_clean_text_keeps_only_tab_and_newline(value: str) -> None:
    try:
        cleaned = clean_text(value)
    except ValueError:
        assert re.search(r"[\x00-\x08\x0b-\x1f\x7f]", value.replace("\r", "\n"))
    else:
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", cleaned)
        assert "\r" not in cleaned


def _has_refused(node: object) -> bool:
    """What clean_json must refuse: control characters in a key, or in a value other than
    tab and newline (a carriage return becomes a newline)."""
    if isinstance(node, dict):
        return any(CONTROL.search(str(k).strip()) or _has_refused(v) for k, v in node.items())
    if isinstance(node, str):
        # as the kernel: line ends normalised, then surrounding whitespace (which for Python
        # includes \x1c-\x1f) stripped, so only what would be stored is judged
        stored = re.sub(r"\r\n?", "\n", node).strip()
        return bool(re.search(r"[\x00-\x08\x0b-\x1f\x7f]", stored))
    return False


@given(
    st.recursive(
        st.text(max_size=5),
        lambda inner: st.dictionaries(st.text(max_size=3), inner, max_size=3),
        max_leaves=8,
    )
)
def test_clean_json_refuses_exactly_the_control_characters(value: object) -> None:
    try:
        clean_json(value)
    except ValueError:
        assert _has_refused(value)
    else:
        assert not _has_refused(value)


def test_clean_json_bounds_nesting() -> None:
    deep: object = "x"
    for _ in range(10):
        deep = {"k": deep}
    with pytest.raises(ValueError, match="nested too deeply"):
        clean_json(deep)


@given(st.text(alphabet="ab%_\\", max_size=8), st.text(alphabet="ab%_\\", max_size=8))
def test_like_escape_matches_literally(needle: str, haystack: str) -> None:
    with sqlite3.connect(":memory:") as db:
        (found,) = db.execute(
            "SELECT ? LIKE ? ESCAPE '\\'", (haystack, f"%{like_escape(needle)}%")
        ).fetchone()
    assert bool(found) == (needle in haystack)


@given(st.text(max_size=12))
def test_is_digits_says_yes_exactly_to_what_int_reads_back_as_0_to_9(value: str) -> None:
    assert is_digits(value) == (value != "" and all(c in "0123456789" for c in value))
    if is_digits(value):
        assert str(int(value)).zfill(len(value)) == value


@pytest.mark.parametrize("value", ["¹", "²³", "٣", "\uff11\uff12", "", "12 ", "-1"])
def test_is_digits_refuses_digits_that_are_not_ascii(value: str) -> None:
    assert not is_digits(value)
