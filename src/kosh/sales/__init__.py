"""Customers, sales orders, reservations and shipping."""
