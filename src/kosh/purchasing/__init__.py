"""Goods in: suppliers, supplier parts, purchase orders, receiving, reorder suggestions."""
