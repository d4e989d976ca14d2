"""Demo and scale data.

`load_demo_site` fills a realistic small site through the real use cases (so every row is
audited and the ledger is exactly what operators would have produced): warehouse MAIN with
its MFG floor, receiving, shipping and quarantine areas and storage bins, about fifty
electronics parts with manufacturers and MPNs, a few PCNs per part, and some picks,
restocks, a transfer, a consumption and a cycle count so histories are not empty.

`load_scale_data` generates large data sets for benchmarks in bulk (COPY on PostgreSQL,
executemany on SQLite): warehouse SCALE with its bins, N parts, lots, and a ledger whose
balances are computed alongside it, so `kosh verify` finds no drift. Rows are written
ordered by time, so ledger ids grow with `at` as they do in a live system.

Both refuse politely when their warehouse exists already: nothing is changed then.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from kosh.catalog import service as part_service
from kosh.catalog.models import Part
from kosh.catalog.schemas import PartCreate
from kosh.core import audit
from kosh.core.actor import Actor, set_actor
from kosh.core.db import transactional, utcnow
from kosh.locations import service as location_service
from kosh.locations.models import Location, Warehouse
from kosh.quality import demo as quality_demo
from kosh.stock import service as stock_service
from kosh.stock.errors import InsufficientStockError
from kosh.stock.models import Lot, PcnSequence, StockBalance, StockTransaction
from kosh.stock.pcn import DIGITS, pcn_prefix

DEMO_WAREHOUSE = "MAIN"
SCALE_WAREHOUSE = "SCALE"
DEMO_ACTOR = Actor(kind="system", id=None, name="demo-data")
SUPPLIERS = ("Digi-Key", "Mouser", "Farnell", "LCSC", "Arrow", "TTI")

# number|description|unit|category|manufacturer|MPN|typical reel or pack size
_CATALOG_TEXT = """
R-0402-10K|Resistor 10k 1% 1/16W 0402|pcs|Resistors|Yageo|RC0402FR-0710KL|10000
R-0402-1K|Resistor 1k 1% 1/16W 0402|pcs|Resistors|Yageo|RC0402FR-071KL|10000
R-0402-100R|Resistor 100R 1% 1/16W 0402|pcs|Resistors|Yageo|RC0402FR-07100RL|10000
R-0402-4K7|Resistor 4.7k 1% 1/16W 0402|pcs|Resistors|Yageo|RC0402FR-074K7L|10000
R-0603-0R|Resistor 0R jumper 0603|pcs|Resistors|Panasonic|ERJ-3GEY0R00V|5000
R-0603-22R|Resistor 22R 1% 1/10W 0603|pcs|Resistors|Vishay|CRCW060322R0FKEA|5000
R-0805-0R05|Current sense resistor 50m 1% 0805|pcs|Resistors|Susumu|RL1220S-R05-F|5000
R-2512-0R01|Current sense resistor 10m 1% 2W 2512|pcs|Resistors|Bourns|CRA2512-FZ-R010ELF|2000
C-0402-100N|Capacitor 100nF 16V X7R 0402|pcs|Capacitors|Murata|GRM155R71C104KA88D|10000
C-0402-1U|Capacitor 1uF 10V X5R 0402|pcs|Capacitors|Samsung|CL05A105KP5NNNC|10000
C-0603-10U|Capacitor 10uF 10V X5R 0603|pcs|Capacitors|Murata|GRM188R61A106KE69D|4000
C-0805-22U|Capacitor 22uF 25V X5R 0805|pcs|Capacitors|Taiyo Yuden|TMK212BBJ226MG-T|3000
C-0402-18P|Capacitor 18pF 50V C0G 0402|pcs|Capacitors|KEMET|C0402C180J5GACTU|10000
C-ELY-470U|Electrolytic capacitor 470uF 35V 10x12.5|pcs|Capacitors|Panasonic|EEE-FK1V471P|500
C-TAN-47U|Tantalum capacitor 47uF 10V case B|pcs|Capacitors|AVX|TAJB476K010RNJ|2000
L-0603-2U2|Inductor 2.2uH 1.2A 0603|pcs|Inductors|Murata|LQM18PN2R2MFRL|4000
L-PWR-10U|Power inductor 10uH 3.6A 6x6 mm|pcs|Inductors|Wurth Elektronik|74438356100|1000
FB-0603-600R|Ferrite bead 600R at 100 MHz 0603|pcs|Inductors|Murata|BLM18KG601SN1D|4000
D-1N4148W|Small signal diode 100V SOD-123|pcs|Diodes|onsemi|1N4148W-7-F|3000
D-SS14|Schottky diode 40V 1A SMA|pcs|Diodes|Vishay|SS14-E3/61T|1800
D-SMBJ5V0|TVS diode 5V 600W SMB|pcs|Diodes|Littelfuse|SMBJ5.0A|3000
LED-0603-GRN|LED green 0603|pcs|Optoelectronics|Wurth Elektronik|150060GS75000|4000
LED-0603-RED|LED red 0603|pcs|Optoelectronics|Wurth Elektronik|150060RS75000|4000
Q-AO3400A|MOSFET N-channel 30V 5.7A SOT-23|pcs|Transistors|Alpha & Omega|AO3400A|3000
Q-BC847|NPN transistor 45V 100mA SOT-23|pcs|Transistors|Nexperia|BC847B,215|3000
IC-STM32F103|MCU ARM Cortex-M3 64KB flash LQFP-48|pcs|ICs|STMicroelectronics|STM32F103C8T6|250
IC-ATMEGA328P|MCU AVR 32KB flash TQFP-32|pcs|ICs|Microchip|ATMEGA328P-AU|250
IC-ESP32-WROOM|Wi-Fi + BT module ESP32, 4 MB flash|pcs|ICs|Espressif|ESP32-WROOM-32E-N4|100
IC-LM358|Dual op-amp SOIC-8|pcs|ICs|Texas Instruments|LM358DR|2500
IC-NE555|Timer SOIC-8|pcs|ICs|Texas Instruments|NE555DR|2500
IC-TPS54331|Buck converter 3.5A 28V SOIC-8|pcs|ICs|Texas Instruments|TPS54331DR|2500
IC-AMS1117-33|LDO regulator 3.3V 1A SOT-223|pcs|ICs|Advanced Monolithic Systems|AMS1117-3.3|2500
IC-74HC595|8-bit shift register SOIC-16|pcs|ICs|Nexperia|74HC595D,118|2500
IC-CH340C|USB to UART bridge SOP-16|pcs|ICs|WCH|CH340C|1000
IC-W25Q32|SPI NOR flash 32 Mbit SOIC-8|pcs|ICs|Winbond|W25Q32JVSSIQ|1000
IC-MCP2551|CAN transceiver SOIC-8|pcs|ICs|Microchip|MCP2551-I/SN|1000
X-16MHZ|Crystal 16 MHz 18pF 3.2x2.5 mm|pcs|Frequency control|Abracon|ABM8-16.000MHZ-B2-T|1000
X-32K768|Crystal 32.768 kHz 12.5pF 2012|pcs|Frequency control|Epson|FC-12M 32.7680KA-A3|3000
J-USBC-16P|USB-C receptacle 16 pin, mid-mount|pcs|Connectors|GCT|USB4085-GF-A|500
J-XH-2P|JST XH header 2 pin, vertical|pcs|Connectors|JST|B2B-XH-A(LF)(SN)|1000
J-KK-4P|Molex KK 254 header 4 pin|pcs|Connectors|Molex|22-27-2041|500
J-HDR-2X5|Pin header 2x5 2.54 mm|pcs|Connectors|Samtec|TSW-105-07-G-D|500
J-RJ45-MAG|RJ45 jack with magnetics|pcs|Connectors|Wurth Elektronik|7499010211A|200
SW-TACT-6MM|Tactile switch 6x6 mm SMD|pcs|Electromechanical|C&K|PTS645SM43SMTR92|1000
F-PTC-500MA|PTC fuse 500 mA 1206|pcs|Circuit protection|Littelfuse|1206L050YR|4000
PCB-CTRL-V3|Controller board PCB rev 3, 4 layers|pcs|PCBs|Eurocircuits|EC-CTRL-V3|50
HW-M3X8|Socket head screw M3x8 DIN 912 A2|pcs|Hardware|Bossard|BN610-M3X8|1000
HW-STANDOFF-M3|Standoff M3x10 female-female brass|pcs|Hardware|Wurth Elektronik|970100154|500
W-UL1007-24-RD|Hook-up wire UL1007 24 AWG red|m|Wire|Alpha Wire|3051 RD005|305
SOLDER-PASTE-T4|Solder paste SAC305 type 4, 500 g jar|g|Consumables|Kester|NP505-HR|500
"""
CATALOG: tuple[tuple[str, str, str, str, str, str, int], ...] = tuple(
    (number, description, unit, category, maker, mpn, int(pack))
    for number, description, unit, category, maker, mpn, pack in (
        tuple(cell.strip() for cell in line.split("|"))
        for line in _CATALOG_TEXT.strip().splitlines()
    )
)


@dataclass(frozen=True)
class DemoResult:
    created: bool
    message: str


# --- the small demo site --------------------------------------------------------------


async def _create_bins(session: AsyncSession, *, warehouse_id: int) -> list[int]:
    """Receiving, shipping and quarantine areas and rack bins A..B-01..03-01..04."""
    for code, kind, description in (
        ("RECV", "receiving", "Goods in"),
        ("SHIP", "shipping", "Goods out"),
        ("QC-HOLD", "quarantine", "Waiting for inspection"),
    ):
        await location_service.create_location(
            session, warehouse_id=warehouse_id, code=code, kind=kind, description=description
        )
    bins: list[int] = []
    for rack in "AB":
        for shelf in range(1, 4):
            for slot in range(1, 5):
                location = await location_service.create_location(
                    session,
                    warehouse_id=warehouse_id,
                    code=f"{rack}-{shelf:02d}-{slot:02d}",
                    kind="storage",
                )
                bins.append(location.id)
    return bins


async def load_demo_site(session: AsyncSession, *, seed: int = 7) -> DemoResult:
    """The small realistic site; refuses (changing nothing) when warehouse MAIN exists."""
    set_actor(DEMO_ACTOR)
    existing = await session.scalar(select(Warehouse.id).where(Warehouse.code == DEMO_WAREHOUSE))
    if existing is not None:
        return DemoResult(
            False,
            f"Demo data is already loaded (warehouse {DEMO_WAREHOUSE} exists); nothing changed.",
        )
    rng = random.Random(seed)  # noqa: S311 - demo data, not cryptography
    warehouse = await location_service.create_warehouse(
        session, code=DEMO_WAREHOUSE, name="Main warehouse"
    )
    bins = await _create_bins(session, warehouse_id=warehouse.id)
    lots: dict[str, list[str]] = {}
    parts = 0
    for number, description, unit, category, maker, mpn, pack in CATALOG:
        if await part_service.get_part_by_number(session, number) is None:
            await part_service.create_part(
                session,
                data=PartCreate(
                    number=number,
                    description=description,
                    unit=unit,
                    category=category,
                    manufacturer=maker,
                    mpn=mpn,
                    reorder_point=pack // 2,
                    unit_cost=_unit_cost(rng, category),
                ),
            )
            parts += 1
        lots[number] = []
        for _ in range(rng.randint(1, 3)):
            receipt = await stock_service.receive(
                session,
                part_number=number,
                qty=pack * rng.choice((1, 1, 2)),
                location_id=rng.choice(bins),
                supplier=rng.choice(SUPPLIERS),
                date_code=f"{rng.randint(23, 26)}{rng.randint(1, 52):02d}",
                reference=f"PO-2026-{rng.randint(100, 260):04d}",
            )
            lots[number].append(receipt.lot.pcn)
    moves = await _demo_activity(session, rng, warehouse_id=warehouse.id, lots=lots, bins=bins)
    await quality_demo.load_quality_demo(  # tickets, an NCR contained in QC-HOLD (kosh.quality)
        session, warehouse_id=warehouse.id, pcns=[p for numbers in lots.values() for p in numbers]
    )
    total_lots = sum(len(v) for v in lots.values())
    return DemoResult(
        True,
        f"Loaded demo site {DEMO_WAREHOUSE}: {len(bins)} bins, {parts} parts, "
        f"{total_lots} PCNs, {total_lots + moves} movements.",
    )


def _unit_cost(rng: random.Random, category: str) -> Decimal:
    ranges = {"ICs": (0.4, 6.0), "PCBs": (8.0, 25.0), "Connectors": (0.1, 3.5)}
    low, high = ranges.get(category, (0.002, 0.4))
    return Decimal(str(round(rng.uniform(low, high), 4)))


async def _demo_activity(
    session: AsyncSession,
    rng: random.Random,
    *,
    warehouse_id: int,
    lots: dict[str, list[str]],
    bins: list[int],
) -> int:
    """Jobs J-1040.. pick kits, return leftovers, use some; one transfer, scrap and count."""
    moves = 0
    numbers = list(lots)
    for job in range(1040, 1050):
        for number in rng.sample(numbers, 6):
            try:
                picked = await stock_service.pick(
                    session,
                    part_number=number,
                    qty=rng.choice((10, 25, 50, 100)),
                    warehouse_id=warehouse_id,
                    reference=f"J-{job}",
                )
            except InsufficientStockError:
                continue  # a small pack ran out: that job goes short, as in life
            moves += len(picked.lines)
            line = picked.lines[0]
            if line.qty > 5 and rng.random() < 0.5:
                await stock_service.restock(session, pcn=line.pcn, qty=line.qty // 5)
                moves += 1
            elif line.qty > 2:
                await stock_service.consume(
                    session,
                    pcn=line.pcn,
                    qty=line.qty // 2,
                    location_id=picked.to_location_id,
                    reason="used on job",
                    reference=f"J-{job}",
                )
                moves += 1
    first = lots[numbers[0]][0]
    detail = await stock_service.get_lot_by_pcn_or_raise(session, first)
    found = (
        await session.execute(
            select(StockBalance.location_id, StockBalance.qty)
            .where(StockBalance.lot_id == detail.id, StockBalance.qty >= 10)
            .order_by(StockBalance.location_id)
            .limit(1)
        )
    ).first()
    if found is not None:
        source, available = found
        target = next(b for b in bins if b != source)
        moved = min(100, int(available))
        await stock_service.transfer(
            session, pcn=first, qty=moved, from_location_id=source, to_location_id=target
        )
        await stock_service.adjust_count(
            session, pcn=first, location_id=target, counted_qty=moved - 2, reason="cycle count"
        )
        await stock_service.consume(
            session,
            pcn=first,
            qty=3,
            location_id=target,
            reason="damaged in handling",
            scrap=True,
        )
        moves += 3
    return moves


# --- scale data -----------------------------------------------------------------------

_ADJECTIVES = ("Resistor", "Capacitor", "Inductor", "Diode", "MOSFET", "Connector", "Regulator")
_SIZES = ("0201", "0402", "0603", "0805", "1206", "SOT-23", "SOIC-8", "QFN-32", "TQFP-44")
_MAKERS = ("Yageo", "Murata", "Vishay", "TI", "ST", "Nexperia", "onsemi", "Bourns", "TDK")
_BATCH = 20_000


@dataclass(frozen=True)
class ScalePlan:
    parts: int
    lots_per_part: int
    ledger_rows: int
    bins: int


def scale_plan(parts: int, *, lots_per_part: int = 3, ledger_rows: int | None = None) -> ScalePlan:
    """N parts, `lots_per_part` lots each, `ledger_rows` rows (default 10 per part)."""
    if parts < 1:
        raise ValueError("scale must be at least 1 part")
    lots = parts * lots_per_part
    rows = max(ledger_rows if ledger_rows is not None else parts * 10, lots)
    return ScalePlan(
        parts=parts,
        lots_per_part=lots_per_part,
        ledger_rows=rows,
        bins=max(20, min(5000, parts // 20)),
    )


async def load_scale_data(
    session: AsyncSession, plan: ScalePlan, *, seed: int = 11, now: datetime | None = None
) -> DemoResult:
    """Bulk-generate a consistent data set in warehouse SCALE (refused if it exists)."""
    set_actor(DEMO_ACTOR)
    if await session.scalar(select(Warehouse.id).where(Warehouse.code == SCALE_WAREHOUSE)):
        return DemoResult(
            False,
            f"Scale data is already loaded (warehouse {SCALE_WAREHOUSE} exists); nothing changed.",
        )
    warehouse = await location_service.create_warehouse(
        session, code=SCALE_WAREHOUSE, name="Scale test warehouse"
    )
    floor = await location_service.mfg_location(session, warehouse.id)
    counts = await _bulk_load(
        session, plan, warehouse_id=warehouse.id, floor_id=floor.id, seed=seed, now=now
    )
    return DemoResult(
        True,
        f"Loaded scale data in warehouse {SCALE_WAREHOUSE}: {counts['bins']} bins, "
        f"{counts['parts']} parts, {counts['lots']} PCNs, {counts['ledger']} ledger rows, "
        f"{counts['balances']} balances.",
    )


@transactional
async def _bulk_load(
    session: AsyncSession,
    plan: ScalePlan,
    *,
    warehouse_id: int,
    floor_id: int,
    seed: int,
    now: datetime | None,
) -> dict[str, int]:
    rng = random.Random(seed)  # noqa: S311 - demo data, not cryptography
    now = now or utcnow()
    start = now - timedelta(days=365)
    conn = await session.connection()
    actor = DEMO_ACTOR.name

    bin_ids = await _reserve_ids(conn, Location.__table__, plan.bins)  # type: ignore[arg-type]
    await _copy(
        conn,
        Location.__table__,  # type: ignore[arg-type]
        ("id", "warehouse_id", "code", "kind", "description", "active", "created_at"),
        (
            (bin_id, warehouse_id, f"S{i // 100:03d}-{i % 100:02d}", "storage", "", True, start)
            for i, bin_id in enumerate(bin_ids)
        ),
    )

    part_ids = await _reserve_ids(conn, Part.__table__, plan.parts)  # type: ignore[arg-type]
    await _copy(
        conn,
        Part.__table__,  # type: ignore[arg-type]
        (
            "id",
            "number",
            "description",
            "unit",
            "category",
            "manufacturer",
            "mpn",
            "reorder_point",
            "unit_cost",
            "active",
            "version",
            "created_at",
            "updated_at",
        ),
        (_scale_part(rng, i, part_id, start) for i, part_id in enumerate(part_ids)),
    )

    lot_count = plan.parts * plan.lots_per_part
    lot_ids = await _reserve_ids(conn, Lot.__table__, lot_count)  # type: ignore[arg-type]
    prefix = pcn_prefix(session)
    first_number = await _reserve_pcns(session, prefix, lot_count)
    span = (now - start).total_seconds()
    # Lot k is received at an increasing time: FIFO order follows the lot ids.
    received = [start + timedelta(seconds=span * 0.8 * k / lot_count) for k in range(lot_count)]
    lot_part = [part_ids[k // plan.lots_per_part] for k in range(lot_count)]
    await _copy(
        conn,
        Lot.__table__,  # type: ignore[arg-type]
        (
            "id",
            "pcn",
            "part_id",
            "received_at",
            "date_code",
            "supplier",
            "reference",
            "created_by",
            "created_at",
        ),
        (
            (
                lot_ids[k],
                f"{prefix}{first_number + k:0{DIGITS}d}",
                lot_part[k],
                received[k],
                f"{rng.randint(22, 26)}{rng.randint(1, 52):02d}",
                SUPPLIERS[k % len(SUPPLIERS)],
                f"PO-S-{k // 50:06d}",
                actor,
                received[k],
            )
            for k in range(lot_count)
        ),
    )

    # The ledger: each lot is received into a bin, then picks to MFG, restocks and
    # consumption follow; balances are tracked alongside, so they match the replay.
    extra = plan.ledger_rows - lot_count
    rows: list[tuple[Any, ...]] = []
    balances: dict[tuple[int, int], int] = {}
    for k in range(lot_count):
        lot_id, part_id = lot_ids[k], lot_part[k]
        home = bin_ids[rng.randrange(len(bin_ids))]
        qty = rng.randint(500, 5000)
        at = received[k]
        rows.append((at, lot_id, part_id, None, home, qty, "receive", f"PO-S-{k // 50:06d}", None))
        shelf, floor_qty = qty, 0
        events = extra // lot_count + (1 if k < extra % lot_count else 0)
        step = (now - at) / (events + 1)
        for e in range(events):
            at = at + step
            if floor_qty and rng.random() < 0.45:
                move = rng.randint(1, floor_qty)
                if rng.random() < 0.5:
                    rows.append((at, lot_id, part_id, floor_id, home, move, "restock", None, None))
                    shelf += move
                else:
                    rows.append(
                        (
                            at,
                            lot_id,
                            part_id,
                            floor_id,
                            None,
                            move,
                            "consume",
                            f"J-{e % 9000 + 1000}",
                            "used on job",
                        )
                    )
                floor_qty -= move
            elif shelf > 1:
                move = rng.randint(1, max(1, shelf // 10))
                rows.append(
                    (
                        at,
                        lot_id,
                        part_id,
                        home,
                        floor_id,
                        move,
                        "pick",
                        f"J-{e % 9000 + 1000}",
                        None,
                    )
                )
                shelf -= move
                floor_qty += move
            else:  # an empty shelf gets a count correction from nowhere
                rows.append((at, lot_id, part_id, None, home, 100, "adjust", None, "cycle count"))
                shelf += 100
        balances[(lot_id, home)] = shelf
        if floor_qty or events:
            balances[(lot_id, floor_id)] = floor_qty
    rows.sort(key=lambda row: row[0])
    await _copy(
        conn,
        StockTransaction.__table__,  # type: ignore[arg-type]
        (
            "at",
            "lot_id",
            "part_id",
            "from_location_id",
            "to_location_id",
            "qty",
            "kind",
            "reference",
            "reason",
            "actor_name",
        ),
        ((*row, actor) for row in rows),
    )
    await _copy(
        conn,
        StockBalance.__table__,  # type: ignore[arg-type]
        ("lot_id", "location_id", "qty"),
        ((lot, location, qty) for (lot, location), qty in sorted(balances.items())),
    )
    counts = {
        "bins": len(bin_ids),
        "parts": plan.parts,
        "lots": lot_count,
        "ledger": len(rows),
        "balances": len(balances),
    }
    await audit.record(
        session,
        action="demo.scale",
        entity_type="warehouse",
        entity_id=warehouse_id,
        after=counts,
    )
    return counts


def _scale_part(rng: random.Random, i: int, part_id: int, at: datetime) -> tuple[Any, ...]:
    kind = _ADJECTIVES[i % len(_ADJECTIVES)]
    size = _SIZES[(i // 7) % len(_SIZES)]
    maker = _MAKERS[(i // 3) % len(_MAKERS)]
    mpn = f"{maker[:3].upper()}{rng.randint(100000, 999999)}-{size.replace('-', '')}"
    return (
        part_id,
        f"S-{i + 1:07d}",
        f"{kind} {size} variant {i + 1}",
        "pcs",
        kind + "s",
        maker,
        mpn,
        0,
        Decimal(f"{rng.randint(1, 99999) / 10000:.4f}"),
        True,
        1,
        at,
        at,
    )


async def _reserve_ids(conn: AsyncConnection, table: Table, count: int) -> list[int]:
    """`count` new primary keys for `table`: from its sequence on PostgreSQL (safe while
    others insert), after the largest id on SQLite (one writer at a time)."""
    if conn.dialect.name == "postgresql":
        rows = await conn.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                "FROM generate_series(1, :count)"
            ),
            {"table": table.name, "count": count},
        )
        return [int(r[0]) for r in rows]
    largest = int(await conn.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0)
    return list(range(largest + 1, largest + 1 + count))


async def _reserve_pcns(session: AsyncSession, prefix: str, count: int) -> int:
    """The first of `count` consecutive PCN numbers taken from the prefix's sequence."""
    last = await session.scalar(
        update(PcnSequence)
        .where(PcnSequence.prefix == prefix)
        .values(last_value=PcnSequence.last_value + count)
        .returning(PcnSequence.last_value)
        .execution_options(synchronize_session=False)
    )
    if last is None:
        session.add(PcnSequence(prefix=prefix, last_value=count))
        await session.flush()
        last = count
    return int(last) - count + 1


async def _copy(
    conn: AsyncConnection, table: Table, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> None:
    """Insert rows in batches: COPY on PostgreSQL (asyncpg), executemany elsewhere."""
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= _BATCH:
            await _write(conn, table, columns, batch)
            batch = []
    if batch:
        await _write(conn, table, columns, batch)


async def _write(
    conn: AsyncConnection, table: Table, columns: Sequence[str], batch: list[tuple[Any, ...]]
) -> None:
    if conn.dialect.name == "postgresql":
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None  # noqa: S101 - a checked-out connection has its driver
        await driver.copy_records_to_table(table.name, records=batch, columns=list(columns))
        return
    await conn.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in batch])


async def vacuum_analyze(engine: AsyncEngine) -> None:
    """After a bulk load on PostgreSQL: fresh planner statistics and a vacuumed visibility
    map (index-only scans), so autovacuum does not start on the new rows under load."""
    if engine.dialect.name != "postgresql":
        return
    async with engine.connect() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("parts", "lots", "locations", "stock_balances", "stock_transactions"):
            await autocommit.execute(text(f"VACUUM (ANALYZE) {table}"))
