"""In-transaction events: subscribers run before the commit, inside the transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Integer, bindparam, event, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit, events
from kosh.core.db import transactional
from kosh.core.errors import ConflictError
from kosh.core.models import AuditEvent


def test_wiring_registers_every_stock_rule() -> None:
    import kosh.wiring

    subscribed = [s for subs in events._subscribers.values() for s, _ in subs]
    for subscriber in kosh.wiring.SUBSCRIBERS:
        assert subscriber in subscribed


async def test_a_refusing_subscriber_rolls_the_whole_use_case_back(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[int]] = []

    async def refuse(_session: AsyncSession, ids: list[int]) -> None:
        seen.append(ids)
        raise ConflictError("no", code="refused")

    monkeypatch.setitem(events._subscribers, "test.event", [(refuse, None)])

    @transactional
    async def use_case(session: AsyncSession) -> None:
        await audit.record(session, action="test.write", entity_type="test")
        events.note(session, "test.event", [3, 1])
        events.note(session, "test.event", [1])

    with pytest.raises(ConflictError):
        await use_case(session)

    assert seen == [[1, 3]]
    count = await session.scalar(select(func.count()).select_from(AuditEvent))
    assert count == 0


def _probe(name: str) -> events.Probe:
    """True when the payload holds the number bound under `name` (a probe as subscribers
    write them: built once, its parameter named for it)."""
    value = bindparam(name, type_=Integer())
    return events.Probe(expression=value > 0, params=lambda ids: {name: 1 if 7 in ids else 0})


def _recording(ran: list[tuple[str, list[int]]]) -> Callable[[str], events.Subscriber]:
    """Subscribers that append (their label, their ids) to `ran`."""

    def subscriber(label: str) -> events.Subscriber:
        async def run(_session: AsyncSession, ids: list[int]) -> None:
            ran.append((label, ids))

        return run

    return subscriber


@contextmanager
def _sent(session: AsyncSession) -> Iterator[list[str]]:
    """The statements the session's engine sends inside the block."""
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_probed_subscribers_run_only_when_their_probe_answers_true(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[tuple[str, list[int]]] = []
    subscriber = _recording(ran)

    monkeypatch.setitem(
        events._subscribers,
        "test.a",
        [(subscriber("a-probed"), _probe("probe_a")), (subscriber("a-plain"), None)],
    )
    monkeypatch.setitem(events._subscribers, "test.b", [(subscriber("b"), _probe("probe_b"))])

    with _sent(session) as statements:
        events.note(session, "test.a", [1])
        events.note(session, "test.b", [7])
        await events.dispatch(session)

    # a's probe said no, b's yes, the plain subscriber always runs; one statement asked both
    assert ran == [("a-plain", [1]), ("b", [7])]
    assert [s for s in statements if not s.startswith("BEGIN")] == [
        next(s for s in statements if "probe_0" in s and "probe_1" in s)
    ]


async def test_one_probe_alone_or_a_subscriber_called_twice_is_not_asked(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[tuple[str, list[int]]] = []

    async def twice(_session: AsyncSession, ids: list[int]) -> None:
        ran.append(("twice", ids))

    async def alone(_session: AsyncSession, ids: list[int]) -> None:
        ran.append(("alone", ids))

    # "twice" is subscribed to both events: its probes' parameters would collide, so it
    # runs unasked both times, and "alone" is then the only probe: no statement for it
    monkeypatch.setitem(
        events._subscribers, "test.a", [(twice, _probe("probe_t")), (alone, _probe("probe_l"))]
    )
    monkeypatch.setitem(events._subscribers, "test.b", [(twice, _probe("probe_t"))])
    events.note(session, "test.a", [1])
    events.note(session, "test.b", [2])
    await events.dispatch(session)

    assert ran == [("twice", [1]), ("alone", [1]), ("twice", [2])]


async def test_probes_answered_ahead_are_not_asked_again_for_the_same_payload(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[tuple[str, list[int]]] = []
    subscriber = _recording(ran)

    for name in ("a", "b", "c", "d"):
        monkeypatch.setitem(
            events._subscribers, f"test.{name}", [(subscriber(name), _probe(f"probe_{name}"))]
        )

    # given a statement of the use case's own that answered a's, b's and c's probes for
    # the payloads it expected: yes to a, no to b and c
    ahead = events.ask_ahead({"test.a": [7], "test.b": [1], "test.c": [1]})
    assert ahead is not None
    row = (await session.execute(select(ahead.answers), ahead.params)).one()
    events.take_answers(session, ahead, row)

    with _sent(session) as statements:
        # when the use case notes a and b as expected, c with another payload, and d
        events.note(session, "test.a", [7])
        events.note(session, "test.b", [1])
        events.note(session, "test.c", [7])
        events.note(session, "test.d", [2])
        await events.dispatch(session)

    # then a runs and b does not, unasked; c (another payload) and d are asked together
    assert ran == [("a", [7]), ("c", [7])]
    [asked] = [s for s in statements if not s.startswith("BEGIN")]
    assert ("probe_0" in asked, "probe_1" in asked, "probe_2" in asked) == (True, True, False)


async def test_answers_ahead_last_one_attempt(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[list[int]] = []

    async def run(_session: AsyncSession, ids: list[int]) -> None:
        ran.append(ids)

    monkeypatch.setitem(events._subscribers, "test.a", [(run, _probe("probe_a"))])
    ahead = events.ask_ahead({"test.a": [1]})
    assert ahead is not None
    events.take_answers(
        session, ahead, (await session.execute(select(ahead.answers), ahead.params)).one()
    )

    # a retried use case starts afresh: its probe's "no" is forgotten, so the subscriber
    # (the only probe left: not asked) runs
    events.reset(session)
    events.note(session, "test.a", [1])
    await events.dispatch(session)

    assert ran == [[1]]
    assert events.ask_ahead({"test.none": [1]}) is None
