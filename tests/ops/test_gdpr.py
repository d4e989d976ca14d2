"""GDPR export and erasure: a customer with a shipped web order is exported, then erased;
afterwards no table (staged payloads, audit images, idempotency answers included) holds the
name, e-mail, phone or street, while the ledger, balances, order lines and `kosh verify` are
unchanged. Open orders refuse erasure with the reason; users are erased too."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from kosh.core.db import Base
from kosh.core.models import AuditEvent
from kosh.ops import digest
from kosh.sales import service as sales_service
from kosh.sales.models import Customer
from kosh.shopfloor import service as shopfloor_service
from kosh.stock import verify as stock_verify
from tests.shopfloor.support import a_floor
from tests.storefront import fakestore
from tests.storefront.conftest import Shop, web_orders
from tests.support.fixtures import MakeUser
from tests.support.platform import run_cli
from tests.support.sales import a_customer, an_order
from tests.support.stock import a_site, stock_in

ORDER_727 = "order_727_processing_guest_docs_create_response.json"
PERSONAL = ["John Doe", "john.doe@example.com", "(555) 555-5555", "969 Market"]
UNTOUCHED = [
    "stock_transactions",
    "stock_balances",
    "sales_order_lines",
    "lots",
    "stock_reservations",
]


async def _grep_every_table(engine: AsyncEngine, needles: list[str]) -> list[str]:
    """`table: needle` for every table row that holds a needle (raw or JSON-escaped)."""
    forms = {n.lower() for n in needles} | {json.dumps(n)[1:-1].lower() for n in needles}
    hits = []
    async with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in await conn.execute(select(table)):
                text = " ".join(
                    v.decode("utf-8", "replace")
                    if isinstance(v, bytes)
                    else json.dumps(v, default=str)
                    for v in row
                ).lower()
                text += " " + text.replace("\\\\", "\\")
                hits += [f"{table.name}: {n}" for n in sorted(forms) if n in text]
    return hits


async def _untouched(engine: AsyncEngine) -> dict[str, tuple[int, str]]:
    async with engine.connect() as conn:
        found = await digest.digests(conn)
    return {name: (found[name].rows, found[name].sha256) for name in UNTOUCHED}


async def _web_customer_with_shipped_order(
    client: httpx.AsyncClient, shop: Shop, session: AsyncSession, drain: Any
) -> int:
    body, headers = fakestore.delivery(fakestore.load(ORDER_727), topic="order.created")
    answer = await fakestore.send(client, shop.code, body, headers)
    assert answer.status_code == 200, answer.text
    await drain()
    [order] = await web_orders(session)
    await sales_service.ship(session, order_id=order.id)
    await drain()  # the sync back to the store
    return order.customer_id


async def test_export_then_erase_leaves_nothing_personal_and_the_ledger_unchanged(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    engine: AsyncEngine,
    admin_headers: dict[str, str],
) -> None:
    # given: John Doe's web order, shipped; his record also edited through the API with an
    # Idempotency-Key (its stored answer holds his data)
    customer_id = await _web_customer_with_shipped_order(client, shop, session, drain)
    assert await _grep_every_table(engine, PERSONAL)  # the test can see the data
    other = await client.post(
        "/api/v1/customers",
        json={"name": "Jane Roe", "email": "jane.roe@example.com"},
        headers={**admin_headers, "Idempotency-Key": "k-jane"},
    )
    assert other.status_code == 201, other.text
    before = await _untouched(engine)

    # when: export
    exported = await client.get(f"/api/v1/customers/{customer_id}/export", headers=admin_headers)
    # then
    assert exported.status_code == 200, exported.text
    assert "attachment" in exported.headers["content-disposition"]
    body = exported.json()
    data = body["data"]
    assert data["sales"]["customer"]["email"] == "john.doe@example.com"
    assert [o["number"] for o in data["sales"]["orders"]] == ["SHOP-727"]
    assert data["web_orders"][0]["payload"]["billing"]["address_1"] == "969 Market"
    assert any(e["action"] == "customer.create" for e in data["audit_events"])

    # when: erase
    erased = await client.post(f"/api/v1/customers/{customer_id}/erase", headers=admin_headers)
    # then
    assert erased.status_code == 200, erased.text
    changed = erased.json()["changed"]
    assert changed["sales"] >= 1
    assert changed["web_orders"] >= 1
    assert changed["audit_events"] >= 1
    assert await _grep_every_table(engine, PERSONAL) == []
    assert await _grep_every_table(engine, ["Jane Roe", "jane.roe@example.com"]) != []
    assert await _untouched(engine) == before
    session.expunge_all()
    await session.rollback()
    assert await stock_verify.replay_differences(session) == []
    customer = await session.get(Customer, customer_id)
    assert customer is not None
    assert (customer.name, customer.email) == (f"Erased customer {customer_id}", None)
    order = (await web_orders(session))[0]
    assert (order.number, order.status) == ("SHOP-727", "shipped")
    # the erasure is audited without the erased data
    event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "gdpr.erase"))
    assert event is not None
    assert (event.entity_type, event.entity_id) == ("customer", str(customer_id))
    assert "john" not in json.dumps(event.after).lower()


async def test_open_orders_refuse_erasure_with_the_reason(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    # given: a confirmed order
    site = await a_site(session, bins=1)
    await stock_in(session, site.part_number, site.bin_ids[0], 10)
    customer = await a_customer(session, name="Open Order Person", phone="+49 30 1234567")
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[(site.part_number, 2)],
        confirm=True,
    )
    # when
    refused = await client.post(f"/api/v1/customers/{customer.id}/erase", headers=admin_headers)
    # then: nothing changed
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["code"] == "customer_has_open_orders"
    assert [o["id"] for o in problem["orders"]] == [order_id]
    session.expunge_all()
    await session.rollback()
    kept = await session.get(Customer, customer.id)
    assert kept is not None
    assert kept.name == "Open Order Person"


async def test_unknown_customer_and_non_admins(
    client: httpx.AsyncClient, admin_headers: dict[str, str], manager_headers: dict[str, str]
) -> None:
    assert (
        await client.get("/api/v1/customers/999/export", headers=admin_headers)
    ).status_code == 404
    assert (
        await client.post("/api/v1/customers/999/erase", headers=admin_headers)
    ).status_code == 404
    assert (
        await client.post("/api/v1/customers/99999999999/erase", headers=admin_headers)
    ).status_code == 404
    assert (
        await client.get("/api/v1/customers/1/export", headers=manager_headers)
    ).status_code == 403
    assert (
        await client.post("/api/v1/customers/1/erase", headers=manager_headers)
    ).status_code == 403


async def test_user_erasure_renames_the_actor_everywhere(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    admin_headers: dict[str, str],
    engine: AsyncEngine,
    login: Any,
) -> None:
    # given: a user who logged in and created a customer
    user = await make_user("manager", username="wilhelmina.k")
    logged = await login(client, user)
    made = await client.post(
        "/api/v1/customers", json={"name": "Made By W"}, headers=logged.headers
    )
    assert made.status_code == 201, made.text
    exported = await client.get(f"/api/v1/users/{user.id}/export", headers=admin_headers)
    assert exported.status_code == 200
    assert exported.json()["data"]["account"]["user"]["username"] == "wilhelmina.k"
    # when
    erased = await client.post(f"/api/v1/users/{user.id}/erase", headers=admin_headers)
    # then
    assert erased.status_code == 200, erased.text
    assert await _grep_every_table(engine, ["wilhelmina.k"]) == []
    assert (await client.get("/api/v1/auth/me", headers=logged.headers)).status_code == 401


async def test_cli_export_and_erase(
    session: AsyncSession, settings: Any, tmp_path: Any, engine: AsyncEngine
) -> None:
    # given
    customer = await a_customer(session, name="Cli Person", phone="+1 202 555 0143")
    env = {
        "KOSH_DATABASE_URL": settings.database_url,
        "KOSH_DATA_DIR": str(tmp_path),
        "KOSH_SECRET_KEY": settings.secret_key.get_secret_value(),
    }
    # when
    exported = await run_cli(
        ["gdpr", "export", "--customer", str(customer.id), "--out", str(tmp_path / "x.json")], env
    )
    erased = await run_cli(["gdpr", "erase", "--customer", str(customer.id), "--yes"], env)
    missing = await run_cli(["gdpr", "erase", "--customer", "987654", "--yes"], env)
    # then
    assert exported.exit_code == 0, exported.output
    assert json.loads((tmp_path / "x.json").read_text())["data"]["sales"]["customer"]["name"] == (
        "Cli Person"
    )
    assert erased.exit_code == 0, erased.output
    assert "erased customer" in erased.output
    assert await _grep_every_table(engine, ["Cli Person", "+1 202 555 0143"]) == []
    assert missing.exit_code == 1
    log = (tmp_path / "backups" / "gdpr" / "erasures.jsonl").read_text().splitlines()
    assert json.loads(log[-1])["id"] == customer.id


async def test_employee_export_then_erase_leaves_no_name_or_badge(
    client: httpx.AsyncClient,
    session: AsyncSession,
    admin_headers: dict[str, str],
    engine: AsyncEngine,
) -> None:
    # given: an employee with a badge, on the shop floor
    floor = await a_floor(session)
    employee = await shopfloor_service.create_employee(
        session,
        number="E-GDPR",
        name="Grace Hopper",
        department_code=floor.department,
        badge="BADGE-GH-77",
        work_centres=[floor.smt],
    )
    employee_id = employee.id
    # when
    exported = await client.get(f"/api/v1/employees/{employee_id}/export", headers=admin_headers)
    erased = await client.post(f"/api/v1/employees/{employee_id}/erase", headers=admin_headers)
    again = await client.get(f"/api/v1/employees/{employee_id}/export", headers=admin_headers)
    # then: the export held the person; afterwards no table holds the name or the badge
    assert exported.status_code == 200, exported.text
    assert exported.json()["data"]["shop_floor"]["name"] == "Grace Hopper"
    assert erased.status_code == 200, erased.text
    assert erased.json()["changed"]["shop_floor"] == 1
    assert await _grep_every_table(engine, ["Grace Hopper", "BADGE-GH-77"]) == []
    assert again.json()["data"]["shop_floor"]["name"] == shopfloor_service.ERASED_NAME
    unknown = await client.post("/api/v1/employees/987654/erase", headers=admin_headers)
    assert unknown.status_code == 404
