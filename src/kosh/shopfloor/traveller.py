"""The job traveller's barcodes: a QR code per operation (`OP-<id>`, what the scanner page
reads), drawn as one SVG path so the page needs no image requests and no inline style."""

from __future__ import annotations

from dataclasses import dataclass

import segno


@dataclass(frozen=True)
class QrCode:
    size: int  # modules per side, quiet zone included
    path: str  # SVG path data in module units


def qr_code(text: str, *, border: int = 2) -> QrCode:
    """The QR symbol for `text` (error correction M or better) as an SVG path."""
    symbol = segno.make_qr(text, error="m")
    matrix = [[bool(cell) for cell in row] for row in symbol.matrix_iter(scale=1, border=0)]
    parts: list[str] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if not row[x]:
                x += 1
                continue
            start = x
            while x < len(row) and row[x]:
                x += 1
            parts.append(f"M{start + border} {y + border}h{x - start}v1h{start - x}z")
    return QrCode(size=len(matrix) + 2 * border, path="".join(parts))
