"""Customers found or added by e-mail (a web order's buyer): one row per address, the new
one's audit event recorded by the caller, a known one returned as it is."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.models import AuditEvent
from kosh.sales import customers
from kosh.sales.models import Customer


async def _created_events(session: AsyncSession, customer_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(
                AuditEvent.action == "customer.create",
                AuditEvent.entity_id == str(customer_id),
            )
        )
        or 0
    )


async def test_a_new_address_inserts_and_leaves_the_audit_event_to_the_caller(
    session: AsyncSession,
) -> None:
    # given / when
    found = await customers.find_or_insert_by_email(
        session, name=" Ann Buyer ", email=" Ann@Example.com ", phone="0123"
    )
    before_audit = await _created_events(session, found.id)
    await customers.audit_added(session, found)
    await session.flush()
    # then: one row keyed by the cleaned address, audited once, by the caller
    row = await session.get(Customer, found.id)
    assert row is not None
    assert (row.name, row.email, row.email_key, row.phone) == (
        "Ann Buyer",
        "Ann@Example.com",
        "ann@example.com",
        "0123",
    )
    assert found.added == {
        "name": "Ann Buyer",
        "email": "Ann@Example.com",
        "phone": "0123",
        "company": None,
    }
    assert before_audit == 0
    assert await _created_events(session, found.id) == 1


async def test_a_known_address_returns_the_customer_unchanged(session: AsyncSession) -> None:
    # given
    first = await customers.find_or_insert_by_email(session, name="Ann", email="ann@example.com")
    await customers.audit_added(session, first)
    await session.flush()
    # when: the same address, spelled otherwise, with another name
    again = await customers.find_or_insert_by_email(
        session, name="Someone Else", email="ANN@example.COM"
    )
    await customers.audit_added(session, again)
    await session.flush()
    # then: the same row, nothing to audit, nothing changed
    assert again.id == first.id
    assert again.added is None
    row = await session.get(Customer, first.id)
    assert row is not None
    assert row.name == "Ann"
    assert await _created_events(session, first.id) == 1
    count = await session.scalar(
        select(func.count()).select_from(Customer).where(Customer.email_key == "ann@example.com")
    )
    assert count == 1


async def test_without_an_address_each_buyer_is_a_new_audited_customer(
    session: AsyncSession,
) -> None:
    # when
    one = await customers.find_or_insert_by_email(session, name="Walk-in", email=None)
    two = await customers.find_or_insert_by_email(session, name="Walk-in", email="  ")
    await session.flush()
    # then: two rows, each audited as it was added (nothing left to the caller)
    assert one.id != two.id
    assert one.added is None
    assert two.added is None
    assert await _created_events(session, one.id) == 1
    assert await _created_events(session, two.id) == 1


async def test_many_at_once_finds_the_known_adds_the_new_once_in_the_order_asked(
    session: AsyncSession,
) -> None:
    # given: one address on file
    known = await customers.find_or_insert_by_email(session, name="Old", email="old@example.com")
    wanted = [
        customers.WantedCustomer(name="New", email="New@Example.com", phone="01"),
        customers.WantedCustomer(name="Old again", email="old@example.com"),
        customers.WantedCustomer(name="New twice", email="new@example.com"),
    ]

    # when
    found = await customers.find_or_insert_many(session, wanted)
    for one in found:
        await customers.audit_added(session, one)
    await session.flush()

    # then: the known one as it is, the new one once (the first one's details), audited once
    assert found[1] == customers.FoundCustomer(known.id)
    assert found[0].id == found[2].id != known.id
    assert found[0].added == {
        "name": "New",
        "email": "New@Example.com",
        "phone": "01",
        "company": None,
    }
    assert found[2].added is None
    assert await _created_events(session, found[0].id) == 1
    row = await session.get(Customer, found[0].id)
    assert row is not None
    assert (row.name, row.email_key) == ("New", "new@example.com")
    assert await customers.find_or_insert_many(session, []) == []


async def test_many_at_once_needs_every_address(session: AsyncSession) -> None:
    with pytest.raises(ValueError, match="e-mail"):
        await customers.find_or_insert_many(
            session, [customers.WantedCustomer(name="No mail", email="  ")]
        )
