"""PCN label images: `GET /api/v1/pcns/{pcn}/label.svg` and `label.png` (anyone logged in).

The received date is printed in the site time zone, as people read it on the shelf.
"""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from kosh.auth.deps import CurrentPrincipal
from kosh.core.deps import SessionDep, SettingsDep
from kosh.stock import labels
from kosh.stock import queries as stock_queries
from kosh.stock import service as stock_service
from kosh.stock.pcn import PCN_PATTERN

router = APIRouter(prefix="/api/v1", tags=["stock"])

PcnPath = Annotated[str, Path(max_length=64, pattern=PCN_PATTERN)]
# Labels follow the part (its description may be edited), so browsers revalidate.
_HEADERS = {"Cache-Control": "private, no-cache"}


async def label_facts(session: AsyncSession, pcn: str, timezone: str) -> labels.LabelFacts:
    """What goes on the label of a PCN (404 pcn_not_found when there is none)."""
    lot = await stock_service.get_lot_by_pcn_or_raise(session, pcn)
    detail = await stock_queries.lot_detail(session, lot)
    return labels.LabelFacts(
        pcn=lot.pcn,
        part_number=detail.part.number,
        description=detail.part.description,
        qty=await stock_queries.received_qty(session, lot.id),
        unit=detail.part.unit,
        received=lot.received_at.astimezone(ZoneInfo(timezone)).date(),
        lot_code=lot.lot_code,
        country_of_origin=lot.country_of_origin,
    )


@router.get(
    "/pcns/{pcn}/label.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
async def label_svg(
    pcn: PcnPath, _: CurrentPrincipal, session: SessionDep, settings: SettingsDep
) -> Response:
    facts = await label_facts(session, pcn, settings.site_timezone)
    return Response(labels.render_svg(facts), media_type="image/svg+xml", headers=_HEADERS)


@router.get(
    "/pcns/{pcn}/label.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
async def label_png(
    pcn: PcnPath, _: CurrentPrincipal, session: SessionDep, settings: SettingsDep
) -> Response:
    facts = await label_facts(session, pcn, settings.site_timezone)
    return Response(labels.render_png(facts), media_type="image/png", headers=_HEADERS)
