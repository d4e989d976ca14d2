"""Whole-list sorting for list pages: `?sort=number` ascending, `?sort=-number` descending,
kept in the URL with the filters; the column headings link to the other order and say which
order is shown (`aria-sort`). Each page names the keys it allows and the column behind each
key; anything else falls back to the page's default order (a hand-edited URL never errors).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query
from pydantic import AfterValidator

from kosh.core.types import clean_query

SortParam = Annotated[str | None, Query(max_length=40), AfterValidator(clean_query)]


@dataclass(frozen=True)
class Sort:
    key: str
    descending: bool
    default: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def value(self) -> str:
        return ("-" if self.descending else "") + self.key

    @property
    def is_default(self) -> bool:
        return self.value == self.default

    def aria(self, key: str) -> str | None:
        """The heading's `aria-sort`, only on the column the list is sorted by."""
        if key != self.key:
            return None
        return "descending" if self.descending else "ascending"

    def href(self, key: str) -> str:
        """The link of a heading: the column ascending, or descending when it already is
        ascending; the filters stay, the offset goes (a new order starts at the top)."""
        wanted = f"-{key}" if key == self.key and not self.descending else key
        # "" stays: a filter chosen as "any" differs from one left at its default
        query = {k: v for k, v in self.params.items() if v is not None and v is not False}
        query["sort"] = wanted
        return "?" + urlencode(query)

    def query(self) -> dict[str, str]:
        """The sort as a query parameter for pager links (nothing for the default)."""
        return {} if self.is_default else {"sort": self.value}


def parse_sort(
    raw: str | None, *, keys: Sequence[str], default: str, params: Mapping[str, Any]
) -> Sort:
    """The sort asked for when its key is one of `keys`, else `default` (e.g. "-created")."""
    for candidate in (raw or "", default):
        key = candidate.removeprefix("-")
        if key in keys:
            return Sort(key, candidate.startswith("-"), default, dict(params))
    raise ValueError(f"default sort {default!r} is not one of {keys!r}")
