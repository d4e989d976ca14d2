"""`Content-Disposition` for downloads whose file name may hold any character.

HTTP headers are Latin-1 at best, so a name like `Ж-100-revA.csv` cannot go into
`filename="..."` as is (Starlette refuses to encode the header: a 500). RFC 6266 section 4.3
says to send both: `filename="<ASCII fallback>"` for old clients and
`filename*=UTF-8''<percent-encoded>` (RFC 8187, formerly 5987), which every current browser
prefers. Every export (CSV, xlsx) builds its header here.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

_FALLBACK_UNSAFE = frozenset('"\\/;%')


def ascii_fallback(filename: str) -> str:
    """The name in printable ASCII: accents dropped (`é` -> `e`), other letters `_`."""
    decomposed = unicodedata.normalize("NFKD", filename)
    chars = []
    for char in decomposed:
        if unicodedata.combining(char):
            continue
        if " " <= char <= "~" and char not in _FALLBACK_UNSAFE:
            chars.append(char)
        else:
            chars.append("_")
    return "".join(chars).strip() or "download"


def content_disposition(filename: str, *, disposition: str = "attachment") -> str:
    """`attachment; filename="..."` plus `filename*=UTF-8''...` when the name is not ASCII."""
    fallback = ascii_fallback(filename)
    if fallback == filename:
        return f'{disposition}; filename="{filename}"'
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
