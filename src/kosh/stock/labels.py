"""PCN labels: a QR code that encodes the PCN, with the part number, description, the
supplier's lot code and country of origin (when known), quantity and received date beside
it, as SVG (for the screen and any printer driver) and PNG (for label printers that take
bitmaps).

The label is 60 x 30 mm. The QR code is kosh.core.qr's (segno's matrix, 4-module quiet
zone), so SVG and PNG show exactly the same symbol; the PNG text is drawn with Pillow's
bundled font (no system fonts needed). Nothing here touches the database: the route
gathers the facts.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw, ImageFont

from kosh.core.qr import QUIET_ZONE, qr_matrix
from kosh.core.qr import svg_path as _qr_path

WIDTH_MM = 60
HEIGHT_MM = 30
PNG_DPI = 300
DESCRIPTION_LINES = 2
DESCRIPTION_CHARS = 21  # per line on the SVG label, a safe fit at 2.2 mm text
TEXT_WIDTH_MM = 28.0  # right of the 28 mm QR code, with a 1 mm margin
AVERAGE_GLYPH = 0.6  # of the font size: a generous average width of sans-serif glyphs


@dataclass(frozen=True)
class LabelFacts:
    pcn: str
    part_number: str
    description: str
    qty: int | None
    unit: str
    received: date
    lot_code: str | None = None
    country_of_origin: str | None = None

    @property
    def origin_line(self) -> str:
        """'Lot 2231A · Origin CN' (either part alone when the other is unknown)."""
        parts = []
        if self.lot_code:
            parts.append(f"Lot {self.lot_code}")
        if self.country_of_origin:
            parts.append(f"Origin {self.country_of_origin}")
        return " · ".join(parts)


def _qty_text(facts: LabelFacts) -> str:
    return "" if facts.qty is None else f"Qty {facts.qty:,} {facts.unit}"


def _description_lines(text: str, width: int) -> list[str]:
    lines = textwrap.wrap(" ".join(text.split()), width=width) or [""]
    if len(lines) > DESCRIPTION_LINES:
        lines = lines[:DESCRIPTION_LINES]
        lines[-1] = lines[-1][: width - 1].rstrip() + "…"
    return lines


def _squeeze(text: str, size: float) -> str:
    """Long PCNs and part numbers are compressed to the label's width instead of cut."""
    if len(text) * size * AVERAGE_GLYPH <= TEXT_WIDTH_MM:
        return ""
    return f' textLength="{TEXT_WIDTH_MM:.0f}" lengthAdjust="spacingAndGlyphs"'


def render_svg(facts: LabelFacts) -> str:
    """The label as a standalone SVG document sized in millimetres."""
    matrix = qr_matrix(facts.pcn)
    qr_size = HEIGHT_MM - 2.0  # 28 mm square with a 1 mm margin
    module = qr_size / (len(matrix) + 2 * QUIET_ZONE)
    path = _qr_path(matrix, offset=1.0 + QUIET_ZONE * module, module=module)
    x = qr_size + 2.0
    lines = [
        (f"{x:.1f}", "5.5", "4.2", "700", facts.pcn),
        (f"{x:.1f}", "10", "3.2", "700", facts.part_number),
    ]
    y = 13.8
    for line in _description_lines(facts.description, DESCRIPTION_CHARS):
        lines.append((f"{x:.1f}", f"{y:.1f}", "2.2", "400", line))
        y += 3.0
    # below the two description lines, above the quantity
    lines.append((f"{x:.1f}", "19.8", "2.2", "400", facts.origin_line))
    lines.append((f"{x:.1f}", "24", "3.2", "700", _qty_text(facts)))
    lines.append((f"{x:.1f}", "28", "2.6", "400", f"Received {facts.received.isoformat()}"))
    texts = "".join(
        f'<text x="{tx}" y="{ty}" font-size="{size}" font-weight="{weight}"'
        f"{_squeeze(text, float(size))}>{escape(text)}</text>"
        for tx, ty, size, weight, text in lines
        if text
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'width="{WIDTH_MM}mm" height="{HEIGHT_MM}mm" viewBox="0 0 {WIDTH_MM} {HEIGHT_MM}" '
        f'role="img" aria-label="Label for PCN {escape(facts.pcn)}">'
        f"<title>PCN {escape(facts.pcn)}</title>"
        f'<rect width="{WIDTH_MM}" height="{HEIGHT_MM}" fill="#fff"/>'
        f'<path id="qr" data-pcn="{escape(facts.pcn)}" fill="#000" d="{path}"/>'
        f'<g font-family="DejaVu Sans, Arial, Helvetica, sans-serif" fill="#000">{texts}</g>'
        "</svg>"
    )


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _px(mm: float) -> int:
    return round(mm / 25.4 * PNG_DPI)


def _wrap_px(
    draw: ImageDraw.ImageDraw,
    text: str,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    width: int,
) -> list[str]:
    """Words into at most DESCRIPTION_LINES lines that fit `width` pixels."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if draw.textlength(candidate, font=font) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
    if current:
        lines.append(current)
    if len(lines) > DESCRIPTION_LINES:
        lines = lines[:DESCRIPTION_LINES]
        last = lines[-1]
        while last and draw.textlength(last + "…", font=font) > width:
            last = last[:-1]
        lines[-1] = last.rstrip() + "…"
    return lines


def render_png(facts: LabelFacts) -> bytes:
    """The label as a 1-bit PNG at 300 dpi (709 x 354 pixels)."""
    width, height = _px(WIDTH_MM), _px(HEIGHT_MM)
    image = Image.new("1", (width, height), 1)
    draw = ImageDraw.Draw(image)
    matrix = qr_matrix(facts.pcn)
    margin = _px(1.0)
    module = (height - 2 * margin) // (len(matrix) + 2 * QUIET_ZONE)
    origin = margin + QUIET_ZONE * module
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                left, top = origin + x * module, origin + y * module
                draw.rectangle((left, top, left + module - 1, top + module - 1), fill=0)
    x = height
    text_width = width - x - margin
    draw.text((x, _px(2.0)), facts.pcn, font=_font(_px(4.2)), fill=0, stroke_width=1)
    draw.text((x, _px(7.2)), facts.part_number, font=_font(_px(3.2)), fill=0, stroke_width=1)
    y = _px(11.6)
    small = _font(_px(2.5))
    for line in _wrap_px(draw, facts.description, small, text_width):
        draw.text((x, y), line, font=small, fill=0)
        y += _px(3.0)
    if facts.origin_line:
        origin_text = facts.origin_line
        while draw.textlength(origin_text, font=small) > text_width:
            origin_text = origin_text[:-1]
        draw.text((x, _px(17.6)), origin_text, font=small, fill=0)
    if facts.qty is not None:
        draw.text((x, _px(20.8)), _qty_text(facts), font=_font(_px(3.2)), fill=0, stroke_width=1)
    draw.text(
        (x, _px(25.4)), f"Received {facts.received.isoformat()}", font=_font(_px(2.6)), fill=0
    )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", dpi=(PNG_DPI, PNG_DPI), optimize=True)
    return buffer.getvalue()
