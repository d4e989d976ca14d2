"""The SLA report page: met / breached per month as a stacked chart and a table, and the
saved views on the ticket list page."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.quality import pages_sla
from kosh.quality import service as quality_service
from kosh.quality.sla import ReportRow
from tests.quality.test_pages import HTML, Login, unlabelled_inputs
from tests.support.fixtures import MakeUser
from tests.web.test_no_inline_code import inline_code


def test_month_chart_stacks_breached_on_met_oldest_first() -> None:
    rows = [
        ReportRow(month="2026-12", kind="ncr", met=3, breached=1),
        ReportRow(month="2026-12", kind="maintenance", met=0, breached=0),
        ReportRow(month="2026-11", kind="ncr", met=1, breached=1),
    ]
    bars, width = pages_sla.month_chart(rows)
    assert [(b.month, b.met, b.breached) for b in bars] == [
        ("2026-11", 1, 1),
        ("2026-12", 3, 1),
    ]
    busiest = bars[1]
    assert busiest.met_height + busiest.breached_height == pages_sla.CHART_HEIGHT
    assert busiest.breached_y + busiest.breached_height == busiest.met_y
    assert bars[0].x < bars[1].x < width
    assert pages_sla.month_chart([]) == ([], pages_sla.BAR_WIDTH)


async def test_sla_page_and_saved_views_on_the_list(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    # given a resolved ticket under a 24x7 policy
    await quality_service.set_policy(
        session, kind="ncr", priority="high", response_minutes=60, resolution_minutes=600
    )
    ticket = await quality_service.create_ticket(
        session, kind="ncr", title="Scratches", priority="high"
    )
    await quality_service.transition(session, ticket_id=ticket.id, to="resolved")
    user = await make_user("operator")
    user_id = user.id
    await quality_service.save_view(
        session, user_id=user_id, name="High NCRs", filters={"kind": "ncr", "priority": "high"}
    )
    await login(client, user)
    # when the SLA report is opened, then it charts the month and lists the policy
    page = await client.get("/quality/sla", headers=HTML)
    assert page.status_code == 200
    assert 'data-testid="sla-chart"' in page.text
    assert "1 met, 0 breached" in page.text
    assert inline_code(page.text) == []
    assert (await client.get("/quality/sla?months=99", headers=HTML)).status_code == 422
    # and the ticket list offers the saved view and saves the current filters
    listed = await client.get("/quality/tickets?kind=ncr&category=open", headers=HTML)
    assert 'href="/quality/tickets?kind=ncr&amp;priority=high"' in listed.text
    assert """value='{"category": "open", "kind": "ncr"}'""" in listed.text
    assert 'data-testid="save-view-form"' in listed.text
    assert inline_code(listed.text) == []
    assert unlabelled_inputs(listed.text) == []
