"""The navigation: each entry shows for its minimum role and above."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    min_role: str


NAV_ITEMS: list[NavItem] = [
    NavItem("Dashboard", "/", "viewer"),
    NavItem("Users", "/admin/users", "admin"),
    NavItem("Audit", "/admin/audit", "admin"),
]


def register(item: NavItem, *, before: str | None = "Users") -> None:
    """Features add their pages to the navigation when the app is assembled."""
    if item in NAV_ITEMS:
        return
    labels = [entry.label for entry in NAV_ITEMS]
    NAV_ITEMS.insert(labels.index(before) if before in labels else len(NAV_ITEMS), item)
