"""Import the modules that subscribe to in-transaction events (docs/adr/0002), so every
entry point (app, worker, CLI) applies the same rules to stock movements."""

from kosh.alerts import service as alert_service
from kosh.core import events
from kosh.production import kitting
from kosh.quality import web_returns
from kosh.sales import reservations
from kosh.shopfloor import subscribers as shopfloor_subscribers
from kosh.storefront import outbox as storefront_outbox
from kosh.storefront import stockpush

# Job shortage alerts quote what purchase orders bring by the due date (kosh.production).
events.subscribe(
    events.ON_ORDER_CHANGED, alert_service.reevaluate_part_alerts, alert_service.PARTS_TO_CHECK
)
# Stock levels pushed to web stores follow movements and reservations (kosh.storefront).
events.subscribe(events.STOCK_CHANGED, stockpush.queue_changes, stockpush.ANY_STORE_PUSHING)
events.subscribe(events.RESERVATION_CHANGED, stockpush.queue_changes, stockpush.ANY_STORE_PUSHING)
# Shipments and cancellations of web orders reach their store (kosh.storefront outbox).
events.subscribe(events.SALES_SHIPPED, storefront_outbox.on_shipped)
events.subscribe(events.SALES_CANCELLED, storefront_outbox.on_cancelled)
# Units refunded in a web store after shipping propose an RMA (kosh.quality); a decided
# return's outcome reaches the store as an order note (kosh.storefront outbox).
events.subscribe(events.SALES_REFUNDED, web_returns.propose_for_refunds)
events.subscribe(events.RETURN_DECIDED, storefront_outbox.on_return_decided)

SUBSCRIBERS = (
    alert_service.reevaluate_part_alerts,
    reservations.guard_withdrawals,
    *shopfloor_subscribers.SUBSCRIBERS,
    stockpush.queue_changes,
    storefront_outbox.on_shipped,
    storefront_outbox.on_cancelled,
    kitting.guard_over_kit,
    web_returns.propose_for_refunds,
    storefront_outbox.on_return_decided,
)
