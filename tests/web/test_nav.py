"""The navigation order does not depend on the order features are imported in."""

from __future__ import annotations

import pytest

from kosh.web import nav


def test_entries_follow_the_declared_order_whatever_the_registration_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(nav, "NAV_ITEMS", [nav.NavItem("Dashboard", "/", "viewer")])
    for label in ["Audit", "Web orders", "Parts", "Custom", "Stock operations", "Users"]:
        nav.register(nav.NavItem(label, f"/{label}", "viewer"))
    nav.register(nav.NavItem("Parts", "/Parts", "viewer"))  # twice: listed once

    assert [item.label for item in nav.NAV_ITEMS] == [
        "Dashboard",
        "Stock operations",
        "Parts",
        "Web orders",
        "Custom",
        "Users",
        "Audit",
    ]
