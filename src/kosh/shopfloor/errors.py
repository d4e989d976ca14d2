"""Shop-floor errors that carry structured details."""

from __future__ import annotations

from kosh.core.errors import ConflictError, NotFoundError


class OverCapacityError(ConflictError):
    """The operations do not fit the work centres' free capacity in the period asked for.

    Details: `work_centre` (code), `period` (from, to), `needed_minutes`, `free_minutes`,
    `overload_minutes`, and `suggestion` ({start, finish}: the earliest finish the job can
    have from that start, or null when nothing fits within the planning horizon)."""

    code = "over_capacity"


def not_found(what: str, key: object, *, code: str, loc: str | None = None) -> NotFoundError:
    errors = [{"loc": [loc], "msg": f"no such {what}"}] if loc else None
    return NotFoundError(f"No {what} {key}.", code=code, errors=errors)
