"""BOM demo data for `kosh demo-data`: the assemblies of the demo site and their bills of
materials, imported from a spreadsheet through the real importer (checked, mapped, read
in the background runner) and activated, so a job can be planned from them.

A re-run changes nothing: a revision the assembly has already is left as it is."""

from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.bom import queries as bom_queries
from kosh.bom import service as bom_service
from kosh.bom.runner import ImportRunner
from kosh.catalog import service as part_service
from kosh.catalog.schemas import PartCreate
from kosh.core.config import Settings


@dataclass(frozen=True)
class DemoBom:
    assembly: str
    description: str
    revision: str
    lines: tuple[tuple[str, int, str], ...]  # part number, qty per assembly, designators


BOMS = (
    DemoBom(
        "ASM-CTRL-V3",
        "Controller board rev 3, assembled and tested",
        "C",
        (
            ("PCB-CTRL-V3", 1, ""),
            ("IC-STM32F103", 1, "U1"),
            ("IC-AMS1117-33", 1, "U2"),
            ("IC-CH340C", 1, "U3"),
            ("X-16MHZ", 1, "Y1"),
            ("C-0402-100N", 8, "C1 C2 C3 C4 C5 C6 C7 C8"),
            ("C-0402-18P", 2, "C9 C10"),
            ("C-0603-10U", 2, "C11 C12"),
            ("R-0402-10K", 4, "R1 R2 R3 R4"),
            ("R-0402-1K", 2, "R5 R6"),
            ("LED-0603-GRN", 1, "D1"),
            ("J-USBC-16P", 1, "J1"),
            ("SW-TACT-6MM", 1, "SW1"),
        ),
    ),
    DemoBom(
        "ASM-TIMER-V1",
        "Timer module rev 1",
        "A",
        (
            ("IC-NE555", 1, "U1"),
            ("C-ELY-470U", 1, "C1"),
            ("C-0402-100N", 2, "C2 C3"),
            ("R-0402-4K7", 2, "R1 R2"),
            ("LED-0603-RED", 1, "D1"),
            ("J-XH-2P", 1, "J1"),
        ),
    ),
    # the next revision (a decoupling capacitor added, a green LED): activating it makes
    # rev A obsolete, and the BOM page can compare the two
    DemoBom(
        "ASM-TIMER-V1",
        "Timer module rev 1",
        "B",
        (
            ("IC-NE555", 1, "U1"),
            ("C-ELY-470U", 1, "C1"),
            ("C-0402-100N", 2, "C2 C3"),
            ("C-0402-1U", 1, "C4"),
            ("R-0402-4K7", 2, "R1 R2"),
            ("LED-0603-GRN", 1, "D1"),
            ("J-XH-2P", 1, "J1"),
        ),
    ),
)


def _write_sheet(folder: Path, bom: DemoBom) -> Path:
    path = folder / f"{bom.assembly}-{bom.revision}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Part number", "Quantity", "Designators"])
        writer.writerows(bom.lines)
    return path


async def load_bom_demo(
    session: AsyncSession, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> list[str]:
    """Import and activate every demo BOM revision the assembly has not got yet (in order:
    a later revision makes the earlier obsolete); answers the "assembly rev" of each made."""
    made: list[str] = []
    runner = ImportRunner(sessions, settings)
    with tempfile.TemporaryDirectory(prefix="kosh-demo-bom-") as folder:
        for bom in BOMS:
            assembly = await part_service.get_part_by_number(session, bom.assembly)
            if assembly is None:
                assembly = await part_service.create_part(
                    session,
                    data=PartCreate(number=bom.assembly, description=bom.description),
                )
            assembly_id = assembly.id
            found, _ = await bom_queries.list_boms(session, assembly_part_id=assembly_id)
            if any(known.revision == bom.revision for known in found):
                continue
            request = bom_service.ImportRequest(
                file_name=f"{bom.assembly}.csv",
                dry_run=False,
                mapping={"part_number": "Part number", "qty": "Quantity", "refdes": "Designators"},
                assembly_part_number=bom.assembly,
                revision=bom.revision,
            )
            await bom_service.start_import(
                session,
                path=_write_sheet(Path(folder), bom),
                request=request,
                settings=settings,
                start=runner.start,
                user_id=None,
            )
            await runner.wait_idle()
            found, _ = await bom_queries.list_boms(session, assembly_part_id=assembly_id)
            imported = next((known for known in found if known.revision == bom.revision), None)
            if imported is None:  # the import failed: its page says why
                continue
            await bom_service.update_bom(
                session, bom_id=imported.id, version=imported.version, status="active"
            )
            made.append(f"{bom.assembly} rev {bom.revision}")
    return made
