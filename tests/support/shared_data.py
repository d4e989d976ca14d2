"""The real files from outside (web-store payloads, BOM spreadsheets).

Looked for, in order: KOSH_TEST_SHARED_DATA; `../shared/data` beside the repository (the
workspace layout); `/work/shared/data` (the same files when the repository is cloned
elsewhere on a development or CI machine, e.g. into /tmp)."""

from __future__ import annotations

import os
from pathlib import Path

_CANDIDATES = [
    os.environ.get("KOSH_TEST_SHARED_DATA", ""),
    str(Path(__file__).resolve().parents[3] / "shared" / "data"),
    "/work/shared/data",
]

SHARED_DATA = next((Path(c) for c in _CANDIDATES if c and Path(c).is_dir()), Path(_CANDIDATES[1]))
