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


# The order people find things in, whatever order the features happen to be imported in.
ORDER = [
    "Dashboard",
    "Stock operations",
    "PCNs",
    "Documents",
    "Parts",
    "Locations",
    "BOMs",
    "Jobs",
    "Shop floor",
    "Alerts",
    "Sales orders",
    "Customers",
    "Web orders",
    "Goods in",
    "Purchase orders",
    "Suppliers",
    "Suggested purchases",
    "Users",
    "Audit",
    "Health",
]


# The clerk's four actions, one tap away in the phone's top bar (operators and above).
QUICK_ACTIONS: list[NavItem] = [
    NavItem("Receive", "/stock/receive", "operator"),
    NavItem("Pick", "/stock/pick", "operator"),
    NavItem("Restock", "/stock/restock", "operator"),
    NavItem("Transfer", "/stock/transfer", "operator"),
]


def _rank(item: NavItem) -> int:
    return ORDER.index(item.label) if item.label in ORDER else ORDER.index("Users")


def register(item: NavItem) -> None:
    """Features add their pages to the navigation when the app is assembled."""
    if item in NAV_ITEMS:
        return
    NAV_ITEMS.append(item)
    NAV_ITEMS.sort(key=_rank)  # stable: unknown labels keep their registration order
