"""QR symbols for printed labels (PCN labels, bin labels): segno's matrix drawn by us, so
every rendering (SVG on screen, PNG for label printers) shows exactly the same symbol.

The quiet zone is 4 modules on every side (ISO/IEC 18004): scanners that find the
symbol's edge in a busy print need it, and less is the first thing a handheld misreads.
"""

from __future__ import annotations

import segno

QUIET_ZONE = 4  # modules of white around the symbol, inside the label's own margin


def qr_matrix(data: str) -> list[list[bool]]:
    """The QR symbol for `data` (error correction M or better), without quiet zone."""
    symbol = segno.make_qr(data, error="m")
    return [[bool(cell) for cell in row] for row in symbol.matrix_iter(scale=1, border=0)]


def svg_path(matrix: list[list[bool]], *, offset: float, module: float) -> str:
    """One SVG path drawing each horizontal run of dark modules as a rectangle, the first
    module's corner at (`offset`, `offset`)."""
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
            parts.append(
                f"M{offset + start * module:.3f} {offset + y * module:.3f}"
                f"h{(x - start) * module:.3f}v{module:.3f}h{-(x - start) * module:.3f}z"
            )
    return "".join(parts)


def svg_symbol(data: str, *, size: float) -> tuple[str, float]:
    """The path of `data`'s symbol fitted with its quiet zone into a `size` square whose
    corner is the origin, and the module size (same unit as `size`)."""
    matrix = qr_matrix(data)
    module = size / (len(matrix) + 2 * QUIET_ZONE)
    return svg_path(matrix, offset=QUIET_ZONE * module, module=module), module
