"""Warehouse documents: transfers, issues, receipts without PO, stocktakes, opening stock."""
