"""ABC classification by consumption value and the cycle-count plan that counts A stock
more often (both engines)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.auth.models import User
from kosh.core.db import utcnow
from kosh.documents import cycle_count
from kosh.documents import service as document_service
from kosh.documents.cycle_count import CountPolicy, classify
from kosh.documents.models import StocktakeLocation
from kosh.documents.service import LineRequest
from kosh.documents.stocktake import Scope
from tests.support.fixtures import LoggedIn, MakeUser
from tests.support.stock import a_location, a_part, a_warehouse, stock_in

Headers = dict[str, str]
Login = Callable[[httpx.AsyncClient, User], Awaitable[LoggedIn]]


def test_classes_follow_the_value_shares() -> None:
    # given parts worth 70 %, 20 %, 6 %, 4 % and nothing of the total
    values = {1: Decimal(700), 2: Decimal(200), 3: Decimal(60), 4: Decimal(40), 5: Decimal(0)}
    # then the first 80 % is A, the next 15 % B, the rest C (the top part is always A)
    assert classify(values, policy=CountPolicy()) == {1: "A", 2: "A", 3: "B", 4: "C", 5: "C"}
    narrow = CountPolicy(a_share=Decimal("0.5"), b_share=Decimal("0.25"))
    assert classify(values, policy=narrow) == {1: "A", 2: "B", 3: "C", 4: "C", 5: "C"}
    assert classify({7: Decimal(0)}, policy=CountPolicy()) == {7: "C"}
    assert classify({}, policy=CountPolicy()) == {}
    assert CountPolicy().interval("A") == 30
    assert CountPolicy().interval("C") == 180


@pytest.fixture
async def world(session: AsyncSession) -> dict[str, int]:
    """Three bins counted 40 days ago and a fourth never counted: BIN-A holds a dear part
    used a lot, BIN-C a cheap one used little, BIN-E nothing."""
    warehouse = await a_warehouse(session)
    warehouse_id = warehouse.id
    bins = {
        code: (await a_location(session, warehouse_id, code=code)).id
        for code in ("BIN-A", "BIN-C", "BIN-E")
    }
    dear = await a_part(session, "DEAR", unit_cost=Decimal("50"))
    cheap = await a_part(session, "CHEAP", unit_cost=Decimal("0.01"))
    dear_lot = await stock_in(session, dear.number, bins["BIN-A"], 100)
    cheap_lot = await stock_in(session, cheap.number, bins["BIN-C"], 100)
    issue = await document_service.create_document(
        session,
        type="issue",
        warehouse_id=warehouse_id,
        reason="production",
        lines=[
            LineRequest(pcn=dear_lot.pcn, qty=40, from_location_id=bins["BIN-A"]),
            LineRequest(pcn=cheap_lot.pcn, qty=5, from_location_id=bins["BIN-C"]),
        ],
    )
    await document_service.post_document(session, document_id=issue.id)
    count = await document_service.create_document(
        session,
        type="stocktake",
        warehouse_id=warehouse_id,
        scope=Scope(location_ids=tuple(bins.values())),
    )
    await document_service.post_document(session, document_id=count.id)
    await session.execute(update(StocktakeLocation).values(posted_at=utcnow() - timedelta(days=40)))
    await session.commit()
    never = await a_location(session, warehouse_id, code="BIN-N")
    return {"warehouse_id": warehouse_id, **bins, "BIN-N": never.id}


async def test_the_plan_counts_a_stock_more_often(
    session: AsyncSession, world: dict[str, int]
) -> None:
    # when the plan is made
    entries = await cycle_count.plan(session, warehouse_id=world["warehouse_id"])
    by_code = {e.code: e for e in entries}
    # then the never-counted bin comes first, then the A bin (30 days: overdue), then the
    # C bins (180 days: not due yet)
    assert [e.code for e in entries] == ["BIN-N", "BIN-A", "BIN-C", "BIN-E"]
    assert (by_code["BIN-A"].abc, by_code["BIN-A"].interval_days) == ("A", 30)
    assert by_code["BIN-A"].overdue
    assert (by_code["BIN-C"].abc, by_code["BIN-E"].abc) == ("C", "C")
    assert not by_code["BIN-C"].overdue
    assert by_code["BIN-N"].due_at is None
    assert by_code["BIN-N"].overdue
    # and the classes: the dear part is A (2,000 of 2,000.05), the cheap one C
    classes = await cycle_count.part_classes(
        session, warehouse_id=world["warehouse_id"], policy=CountPolicy()
    )
    assert [(c.part_number, c.units, c.abc) for c in classes] == [
        ("DEAR", 40, "A"),
        ("CHEAP", 5, "C"),
    ]
    assert classes[0].value == Decimal("2000")
    # with a 400-day interval for A nothing counted is due
    lenient = CountPolicy(days_a=400, days_c=400)
    later = await cycle_count.plan(session, warehouse_id=world["warehouse_id"], policy=lenient)
    assert [e.overdue for e in later] == [True, False, False, False]


async def test_the_plan_and_classes_through_the_api(
    client: httpx.AsyncClient, operator_headers: Headers, world: dict[str, int]
) -> None:
    plan = await client.get(
        "/api/v1/documents/cycle-count-plan",
        params={"warehouse_id": world["warehouse_id"], "limit": 2},
        headers=operator_headers,
    )
    assert plan.status_code == 200, plan.text
    body = plan.json()
    assert [i["code"] for i in body["items"]] == ["BIN-N", "BIN-A"]
    assert body["items"][1]["abc"] == "A"
    assert body["policy"]["days_a"] == 30
    assert Decimal(body["policy"]["a_share"]) == Decimal("0.80")
    classes = await client.get(
        "/api/v1/documents/abc-classes",
        params={"warehouse_id": world["warehouse_id"], "limit": 1},
        headers=operator_headers,
    )
    assert classes.status_code == 200, classes.text
    page = classes.json()
    assert (page["total"], page["items"][0]["part_number"], page["items"][0]["abc"]) == (
        2,
        "DEAR",
        "A",
    )
    assert page["next"] is not None


async def test_the_plan_page(
    client: httpx.AsyncClient, world: dict[str, int], make_user: MakeUser, login: Login
) -> None:
    await login(client, await make_user("viewer"))
    response = await client.get(
        f"/documents/cycle-count?warehouse_id={world['warehouse_id']}",
        headers={"accept": "text/html"},
    )
    assert response.status_code == 200
    assert 'data-testid="plan"' in response.text
    assert "BIN-A" in response.text
    assert "DEAR" in response.text
    fallback = await client.get("/documents/cycle-count", headers={"accept": "text/html"})
    assert fallback.status_code == 200


def test_the_shares_must_leave_room_for_class_c() -> None:
    from pydantic import ValidationError

    from kosh.core.config import Settings

    with pytest.raises(ValidationError):
        Settings(_env_file=None, cycle_count_a_share="0.9", cycle_count_b_share="0.1")  # type: ignore[call-arg]
    ok = Settings(_env_file=None, cycle_count_a_share="0.7", cycle_count_b_share="0.2")  # type: ignore[call-arg]
    assert CountPolicy.from_settings(ok).a_share == Decimal("0.7")
