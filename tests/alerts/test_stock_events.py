"""Stock movements re-check their parts' alerts inside the same transaction."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.alerts.models import Alert
from kosh.stock import service as stock_service
from tests.alerts.test_alerts import alerts, low_part


async def test_receipt_below_reorder_point_raises_and_receipt_above_resolves(
    session: AsyncSession,
) -> None:
    # given a part with reorder point 10 and 3 in stock (the receipt raised the alert)
    low = await low_part(session, reorder=10, qty=3)
    [raised] = await alerts(session)
    assert (raised.kind, raised.state, raised.part_id) == ("low_stock", "open", low.part_id)

    # when 20 more arrive
    await stock_service.receive(session, part_number=low.number, qty=20, location_id=low.bin_id)

    # then the alert is resolved by the receipt itself
    [after] = await alerts(session)
    assert after.state == "resolved"

    # and a pick that drops storage stock below the point again re-opens it
    await stock_service.pick(
        session, part_number=low.number, qty=20, warehouse_id=low.warehouse_id, reference="J-9"
    )
    [reopened] = await alerts(session)
    assert (reopened.state, reopened.reopened_count) == ("open", 1)


async def test_failed_pick_changes_no_alert(
    session: AsyncSession, client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    # given a low part with an open alert
    low = await low_part(session, reorder=10, qty=3)
    before = [(a.id, a.state, a.last_raised_at) for a in await alerts(session)]

    # when a pick asks for more than there is
    response = await client.post(
        "/api/v1/stock/pick",
        json={
            "part_number": low.number,
            "qty": 50,
            "warehouse_id": low.warehouse_id,
            "reference": "J-1",
        },
        headers=operator_headers,
    )

    # then it is refused and the alert is untouched (the whole unit rolled back)
    assert response.status_code == 409
    session.expire_all()
    after = [
        (a.id, a.state, a.last_raised_at)
        for a in await session.scalars(select(Alert).order_by(Alert.id))
    ]
    assert after == before
