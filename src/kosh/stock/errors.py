"""Stock errors with the structured details a caller needs to act on them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kosh.core.errors import ConflictError, ValidationError, field_error


class InsufficientStockError(ConflictError):
    """Not enough stock where it was asked for (409). `details.available` says how much
    there is; `details.lots` (when known) lists where it sits."""

    code = "insufficient_stock"

    def __init__(
        self,
        message: str,
        *,
        available: int,
        requested: int,
        lots: Sequence[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        details: dict[str, Any] = {"available": available, "requested": requested}
        if lots is not None:
            details["lots"] = list(lots)
        details.update(extra or {})
        super().__init__(message, details=details)
        self.available = available
        self.requested = requested


def require_text(value: str | None, loc: str, what: str) -> str:
    """`value` without surrounding spaces; 422 when that leaves nothing."""
    text = (value or "").strip()
    if not text:
        raise ValidationError(f"A {what} is required.", errors=[field_error([loc], "required")])
    return text
