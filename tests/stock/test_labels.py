"""PCN labels: the SVG and PNG carry the PCN's QR code (the same symbol segno makes), the
part number, description, received quantity and date; both need a login."""

from __future__ import annotations

import io
import re
import struct
from datetime import UTC, date, datetime

import httpx
import pytest
import segno
import zxingcpp
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.stock import labels
from tests.support.stock import a_part, a_site, stock_in

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def facts(**changes: object) -> labels.LabelFacts:
    base = {
        "pcn": "PCN000042",
        "part_number": "R-100",
        "description": "Resistor 10k 0402 1% thick film",
        "qty": 5000,
        "unit": "pcs",
        "received": date(2026, 3, 1),
    }
    return labels.LabelFacts(**{**base, **changes})  # type: ignore[arg-type]


def svg_modules(svg: str) -> set[tuple[int, int]]:
    """The dark modules the SVG's QR path draws, as (row, column) cells."""
    path = re.search(r'<path id="qr"[^>]* d="([^"]+)"', svg)
    assert path is not None
    cells: set[tuple[int, int]] = set()
    runs = re.findall(r"M([\d.]+) ([\d.]+)h([\d.]+)v([\d.]+)", path.group(1))
    module = float(runs[0][3])
    left = min(float(x) for x, _, _, _ in runs)
    top = min(float(y) for _, y, _, _ in runs)
    for x, y, width, _ in runs:
        row = round((float(y) - top) / module)
        first = round((float(x) - left) / module)
        for column in range(first, first + round(float(width) / module)):
            cells.add((row, column))
    return cells


def expected_modules(pcn: str) -> set[tuple[int, int]]:
    symbol = segno.make_qr(pcn, error="m")
    return {
        (r, c)
        for r, row in enumerate(symbol.matrix_iter(scale=1, border=0))
        for c, dark in enumerate(row)
        if dark
    }


def test_svg_label_draws_the_qr_code_of_the_pcn_and_the_facts() -> None:
    svg = labels.render_svg(facts())

    assert svg.startswith("<svg ")
    assert 'width="60mm" height="30mm"' in svg
    assert svg_modules(svg) == expected_modules("PCN000042")
    for text in ("PCN000042", "R-100", "Resistor 10k 0402 1%", "Qty 5,000 pcs", "2026-03-01"):
        assert text in svg


def test_svg_label_escapes_text_and_shortens_long_descriptions() -> None:
    svg = labels.render_svg(facts(description="<b>&" + " very long words" * 20))

    assert "<b>" not in svg
    assert "&lt;b&gt;&amp;" in svg
    assert svg.count('font-size="2.2"') == labels.DESCRIPTION_LINES
    assert "…" in svg


def test_png_label_is_a_300_dpi_png_with_the_same_qr_code() -> None:
    data = labels.render_png(facts())

    assert data.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (709, 354)
    image = Image.open(io.BytesIO(data)).convert("1")
    # sample the centre of every module of the symbol against segno's matrix
    matrix = labels.qr_matrix("PCN000042")
    margin = round(1.0 / 25.4 * labels.PNG_DPI)
    module = (height - 2 * margin) // (len(matrix) + 2 * labels.QUIET_ZONE)
    origin = margin + labels.QUIET_ZONE * module
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            pixel = image.getpixel(
                (origin + c * module + module // 2, origin + r * module + module // 2)
            )
            assert (pixel == 0) == dark, (r, c)
    # and there is text to the right of the symbol
    text_area = image.crop((height, 0, width, height))
    assert text_area.getextrema() == (0, 255)


async def test_label_routes_answer_svg_and_png_for_a_pcn(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    site = await a_site(session)
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 1200)

    svg = await client.get(f"/api/v1/pcns/{lot.pcn}/label.svg", headers=operator_headers)
    png = await client.get(f"/api/v1/pcns/{lot.pcn}/label.png", headers=operator_headers)

    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg_modules(svg.text) == expected_modules(lot.pcn)
    assert site.part_number in svg.text
    assert "Qty 1,200 pcs" in svg.text
    assert datetime.now(UTC).date().isoformat()[:7] in svg.text
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(PNG_SIGNATURE)


async def test_label_of_an_unknown_pcn_is_404_and_anonymous_is_401(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    await a_part(session)
    missing = await client.get("/api/v1/pcns/NOPE-1/label.svg", headers=operator_headers)
    anonymous = await client.get("/api/v1/pcns/NOPE-1/label.png")

    assert missing.status_code == 404
    assert missing.json()["code"] == "pcn_not_found"
    assert anonymous.status_code == 401


def test_label_prints_the_lot_code_and_country_of_origin() -> None:
    # given a lot with the supplier's lot code and origin; when drawn as SVG
    svg = labels.render_svg(facts(lot_code="LOT7-2231", country_of_origin="MY"))
    # then the line sits between the description and the quantity
    assert "Lot LOT7-2231 · Origin MY" in svg
    assert svg.count('font-size="2.2"') == labels.DESCRIPTION_LINES + 1  # and the origin
    # and either part alone, or none, prints only what is known
    assert "Origin CN" in labels.render_svg(facts(country_of_origin="CN"))
    assert ">Lot X1<" in labels.render_svg(facts(lot_code="X1"))
    assert "Lot " not in labels.render_svg(facts())
    # and a very long lot code is squeezed to the label's width, never past it
    assert 'lengthAdjust="spacingAndGlyphs"' in labels.render_svg(facts(lot_code="L" * 64))


def test_png_label_draws_the_origin_line_within_the_label() -> None:
    plain = Image.open(io.BytesIO(labels.render_png(facts())))
    marked = Image.open(
        io.BytesIO(labels.render_png(facts(lot_code="L" * 64, country_of_origin="CN")))
    )
    # the origin line's band (17.6 .. 20.1 mm) is empty without it and inked with it
    top, bottom = round(17.8 / 25.4 * labels.PNG_DPI), round(20.0 / 25.4 * labels.PNG_DPI)
    band = (plain.height, top, plain.width, bottom)
    assert plain.convert("1").crop(band).getextrema() == (255, 255)
    assert marked.convert("1").crop(band).getextrema() == (0, 255)
    # a long code is cut at the label's right margin (the last 1 mm stays white)
    margin = (marked.width - round(1.0 / 25.4 * labels.PNG_DPI), top, marked.width, bottom)
    assert marked.convert("1").crop(margin).getextrema() == (255, 255)


def _dark_box(image: Image.Image, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The bounding box of the black pixels inside `box`."""
    inverted = Image.eval(image.crop(box).convert("L"), lambda v: 255 - v)
    found = inverted.getbbox()
    assert found is not None
    return (box[0] + found[0], box[1] + found[1], box[0] + found[2], box[1] + found[3])


def test_png_label_decodes_and_has_a_quiet_zone_of_four_modules() -> None:
    # given PCN labels of a short and a long PCN (QR versions 1 and 3)
    for pcn in ("PCN000042", "PCN-2026-000000012345-LONG"):
        image = Image.open(io.BytesIO(labels.render_png(facts(pcn=pcn)))).convert("L")
        width, height = image.size

        # when a scanner reads it
        decoded = zxingcpp.read_barcodes(image)

        # then it finds the PCN, and white of at least 4 modules surrounds the symbol
        # (ISO/IEC 18004), the text to its right included
        assert [d.text for d in decoded] == [pcn]
        modules = len(labels.qr_matrix(pcn))
        left, top, right, bottom = _dark_box(image, (0, 0, height, height))
        module = (right - left) / modules
        assert (bottom - top) / modules == pytest.approx(module)
        text_left = _dark_box(image, (right, 0, width, height))[0]
        quiet = {
            "left": left / module,
            "top": top / module,
            "bottom": (height - bottom) / module,
            "right": (text_left - right) / module,
        }
        assert min(quiet.values()) >= labels.QUIET_ZONE == 4, quiet


def test_svg_label_keeps_four_modules_of_white_around_the_symbol() -> None:
    svg = labels.render_svg(facts())
    path = re.search(r'<path id="qr"[^>]* d="([^"]+)"', svg)
    assert path is not None
    runs = [
        tuple(map(float, r))
        for r in re.findall(r"M([\d.]+) ([\d.]+)h([\d.]+)v([\d.]+)", path.group(1))
    ]
    module = runs[0][3]
    left, top = min(r[0] for r in runs), min(r[1] for r in runs)
    right = max(r[0] + r[2] for r in runs)
    bottom = max(r[1] + r[3] for r in runs)
    first_text = min(float(x) for x in re.findall(r'<text x="([\d.]+)"', svg))
    assert min(left, top, labels.HEIGHT_MM - bottom, first_text - right) / module >= 4
