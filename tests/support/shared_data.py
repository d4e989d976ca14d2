"""The real files from outside (web-store payloads, BOM spreadsheets): `../shared/data`
beside the repository, or wherever KOSH_TEST_SHARED_DATA points."""

from __future__ import annotations

import os
from pathlib import Path

SHARED_DATA = Path(
    os.environ.get("KOSH_TEST_SHARED_DATA")
    or Path(__file__).resolve().parents[3] / "shared" / "data"
)
