"""What KOSH tells a WooCommerce store about its orders, as outbox payloads (pure).

A shipment in full completes the order; every shipment adds an order note. A tracked
shipment's note names carrier and tracking number and is a customer note (WooCommerce mails
it to the buyer). Stores running the WooCommerce Shipment Tracking extension also get its
order meta `_wc_shipment_tracking_items`: the whole list of the order's tracked parcels,
since an update replaces the meta value.
"""

from __future__ import annotations

import hashlib
from typing import Any

from kosh.sales.shipments import ShipmentNotice, Tracking

TRACKING_META_KEY = "_wc_shipment_tracking_items"


def tracking_item(tracking: Tracking, *, order_number: str) -> dict[str, str]:
    """One item as the Shipment Tracking extension stores it. The carrier goes in as a
    custom provider (the extension's own provider slugs are its business); the id is stable,
    so sending the same shipment twice leaves the same meta."""
    digest = hashlib.md5(  # not for security: an item id the extension keys on
        f"{order_number}:{tracking.carrier or ''}:{tracking.tracking_number}".encode(),
        usedforsecurity=False,
    ).hexdigest()
    return {
        "tracking_provider": "",
        "custom_tracking_provider": tracking.carrier or "",
        "custom_tracking_link": "",
        "tracking_number": tracking.tracking_number,
        "date_shipped": str(int(tracking.shipped_at.timestamp())),
        "tracking_id": digest,
    }


def shipment_note(notice: ShipmentNotice) -> str:
    if notice.complete:
        note = f"Shipped by KOSH ({notice.order_number})."
    else:
        summary = ", ".join(f"{qty} x line {line_no}" for line_no, qty in notice.lines)
        note = f"Partly shipped by KOSH: {summary}."
    if notice.tracking_number:
        carrier = f" with {notice.carrier}" if notice.carrier else ""
        note += f" Sent{carrier}, tracking number {notice.tracking_number}."
    elif notice.carrier:
        note += f" Sent with {notice.carrier}."
    return note


def shipment_payload(notice: ShipmentNotice, *, tracking_meta: bool) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "status": "completed" if notice.complete else None,
        "note": shipment_note(notice),
        "customer_note": bool(notice.tracking_number),
        "shipment": notice.shipment_number,
    }
    if tracking_meta and notice.all_tracking:
        payload["meta_data"] = [
            {
                "key": TRACKING_META_KEY,
                "value": [
                    tracking_item(t, order_number=notice.order_number) for t in notice.all_tracking
                ],
            }
        ]
    return payload
