"""What goods-in leaves on the PCN: the supplier's lot code and country of origin (from the
label or typed) on the lot, its API read, its page and its printed label; a reversed
receipt reads as `receipt_reversal` in the PCN's history, and the ledger still balances."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.auth.models import User
from kosh.purchasing import service as purchasing_service
from kosh.purchasing.barcode import encode_ecia
from kosh.purchasing.receiving import Bag
from kosh.stock import verify
from tests.purchasing.factories import Headers, World, a_po, buying
from tests.purchasing.factories import ok as _ok
from tests.support.fixtures import LoggedIn, MakeUser

HTML = {"accept": "text/html"}
Login = Callable[[httpx.AsyncClient, User], Awaitable[LoggedIn]]


@pytest.mark.usefixtures("sessions")
async def test_goods_in_label_sets_lot_code_and_origin_on_the_pcn(
    client: httpx.AsyncClient, world: World, operator_headers: Headers
) -> None:
    # given: a DigiKey bag whose label names lot, date code and country of origin
    label = encode_ecia(
        [
            ("P", "296-1395-1-ND"),
            ("1P", "LM358DR"),
            ("K", world.number),
            ("1T", "A2231-77"),
            ("10D", "2312"),
            ("4L", "MY"),
            ("Q", "200"),
        ]
    )
    # when: it is received
    result = await _ok(
        await client.post(
            f"/api/v1/purchase-orders/{world.order_id}/receive",
            json={"barcode": label, "location_id": world.goods_in_id},
            headers=operator_headers,
        )
    )
    pcn = result["pcn"]
    # then: the PCN's read carries them
    read = await _ok(await client.get(f"/api/v1/pcns/{pcn}", headers=operator_headers))
    assert (read["lot_code"], read["country_of_origin"], read["date_code"]) == (
        "A2231-77",
        "MY",
        "2312",
    )
    assert read["supplier"] == "DigiKey"
    # and: the printed label shows them next to the quantity
    svg = await client.get(f"/api/v1/pcns/{pcn}/label.svg", headers=operator_headers)
    assert "Lot A2231-77 · Origin MY" in svg.text
    png = await client.get(f"/api/v1/pcns/{pcn}/label.png", headers=operator_headers)
    assert png.status_code == 200


@pytest.mark.usefixtures("sessions")
async def test_typed_lot_code_and_origin_win_over_the_label(
    client: httpx.AsyncClient, world: World, operator_headers: Headers
) -> None:
    label = encode_ecia([("1P", "LM358DR"), ("1T", "FROM-LABEL"), ("4L", "CN"), ("Q", "10")])
    result = await _ok(
        await client.post(
            f"/api/v1/purchase-orders/{world.order_id}/receive",
            json={
                "barcode": label,
                "location_id": world.goods_in_id,
                "lot_code": "TYPED-1",
                "country": "DE",
            },
            headers=operator_headers,
        )
    )
    read = await _ok(await client.get(f"/api/v1/pcns/{result['pcn']}", headers=operator_headers))
    assert (read["lot_code"], read["country_of_origin"]) == ("TYPED-1", "DE")


@pytest.mark.usefixtures("sessions")
async def test_stock_receive_accepts_lot_code_and_origin(
    client: httpx.AsyncClient, world: World, operator_headers: Headers
) -> None:
    # given / when: a free-standing receipt with the label's facts typed in
    body = {
        "part_number": "OPAMP-358",
        "qty": 25,
        "location_id": world.bin_id,
        "lot_code": "L-9",
        "country_of_origin": "TW",
    }
    made = await _ok(
        await client.post("/api/v1/stock/receive", json=body, headers=operator_headers), 201
    )
    # then
    read = await _ok(await client.get(f"/api/v1/pcns/{made['pcn']}", headers=operator_headers))
    assert (read["lot_code"], read["country_of_origin"]) == ("L-9", "TW")
    # and: a country that is not an ISO code, or a control character, is refused
    for bad in ({"country_of_origin": "Taiwan"}, {"lot_code": "L\x00"}, {"lot_code": "x" * 65}):
        refused = await client.post(
            "/api/v1/stock/receive", json={**body, **bad}, headers=operator_headers
        )
        assert refused.status_code == 422, bad
        assert refused.headers["content-type"].startswith("application/problem+json")


async def test_pcn_page_shows_origin_and_a_reversal_reads_as_such(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    # given: a receipt with lot code and origin, then reversed by a manager
    b = await buying(session)
    order_id, number, line_id = await a_po(session, b, 50)
    _, [booked] = await purchasing_service.receive(
        session,
        order_id=order_id,
        location_id=b.receiving_id,
        bags=[Bag(line_id=line_id, qty=50, lot_code="LC-5", country="JP")],
    )
    pcn = booked.lot.pcn
    await purchasing_service.reverse_receipt(
        session, order_id=order_id, receipt_id=booked.receipt.id, reason="wrong bag"
    )
    await login(client, await make_user("viewer"))
    # when: the PCN page is opened
    response = await client.get(f"/pcns/{pcn}", headers=HTML)
    assert response.status_code == 200
    html = response.text
    # then: its facts and its truthful history
    assert 'data-testid="pcn-lot-code">LC-5<' in html
    assert 'data-testid="pcn-country">JP<' in html
    assert re.findall(r'<tr data-kind="(\w+)"', html) == ["receipt_reversal", "receive"]
    assert "receipt reversal" in html
    assert f"reversal of receipt {booked.receipt.id}: wrong bag" in html
    # and: the history filters by the new kind, on the page and in the API
    only = await client.get(f"/pcns/{pcn}?kind=receipt_reversal", headers=HTML)
    assert re.findall(r'<tr data-kind="(\w+)"', only.text) == ["receipt_reversal"]
    api = await _ok(
        await client.get(f"/api/v1/pcns/{pcn}/history", params={"kind": "receipt_reversal"})
    )
    assert [e["kind"] for e in api["items"]] == ["receipt_reversal"]
    assert api["items"][0]["reference"] == number
    # and: the ledger replays to the balances (kosh verify finds no drift)
    assert await verify.replay_differences(session) == []
