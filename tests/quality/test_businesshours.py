"""Business-hour arithmetic (pure), with hypothesis: deadlines and elapsed time agree,
elapsed time adds up, never exceeds real time, a whole day holds exactly its calendar
minutes, weekends and holidays count nothing, and all of it holds across DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kosh.quality.businesshours import BusinessCalendar, parse_day_start

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS_8H = (480, 480, 480, 480, 480, 0, 0)

zones = st.sampled_from([ZoneInfo("UTC"), BERLIN, NEW_YORK, ZoneInfo("Australia/Lord_Howe")])
calendars = st.builds(
    BusinessCalendar,
    weekday_minutes=st.tuples(*[st.integers(0, 1380)] * 7).filter(lambda t: sum(t) > 0),
    exceptions=st.dictionaries(
        st.dates(date(2026, 1, 1), date(2027, 12, 31)), st.integers(0, 600), max_size=10
    ),
    day_start=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    tz=zones,
)
# hypothesis takes naive bounds and adds the zone itself
_LOW, _HIGH = datetime(2026, 1, 1), datetime(2027, 12, 31)  # noqa: DTZ001
instants = st.datetimes(_LOW, _HIGH, timezones=st.just(UTC)).map(lambda d: d.replace(microsecond=0))


@settings(max_examples=150, deadline=None)
@given(calendars, instants, st.integers(1, 20_000))
def test_elapsed_until_the_deadline_is_the_target(
    calendar: BusinessCalendar, start: datetime, minutes: int
) -> None:
    deadline = calendar.add(start, minutes)
    assert deadline is not None
    assert deadline >= start
    assert calendar.working_seconds(start, deadline) == minutes * 60


@settings(max_examples=150, deadline=None)
@given(calendars, instants, st.integers(0, 30 * 24 * 60), st.integers(0, 30 * 24 * 60))
def test_elapsed_adds_up_and_never_exceeds_real_time(
    calendar: BusinessCalendar, start: datetime, first: int, second: int
) -> None:
    middle = start + timedelta(minutes=first)
    end = middle + timedelta(minutes=second)
    a, b = calendar.working_seconds(start, middle), calendar.working_seconds(middle, end)
    assert a + b == calendar.working_seconds(start, end)
    assert a <= first * 60
    assert calendar.working_seconds(end, start) == 0 or end == start


@settings(max_examples=100, deadline=None)
@given(calendars, st.dates(date(2026, 1, 1), date(2027, 12, 31)))
def test_a_day_holds_exactly_its_calendar_minutes(calendar: BusinessCalendar, day: date) -> None:
    window = calendar.window(day)
    if window is None:
        assert calendar.minutes_on(day) == 0
        return
    start, end = window
    assert calendar.working_seconds(start - timedelta(hours=1), end + timedelta(hours=1)) == int(
        (end - start).total_seconds()
    )
    assert end - start <= timedelta(minutes=calendar.minutes_on(day))


@pytest.mark.parametrize(
    "day",
    [date(2026, 3, 29), date(2026, 10, 25)],  # Europe/Berlin: clocks forward, clocks back
)
def test_dst_days_keep_their_minutes_and_start_at_local_time(day: date) -> None:
    calendar = BusinessCalendar(weekday_minutes=(480,) * 7, day_start=time(6, 0), tz=BERLIN)
    window = calendar.window(day)
    assert window is not None
    start, end = window
    assert start.astimezone(BERLIN).time() == time(6, 0)
    assert end - start == timedelta(minutes=480)
    # a night shift across the change: 23:00 for 8 h is 8 real hours
    night = BusinessCalendar(weekday_minutes=(480,) * 7, day_start=time(23, 0), tz=BERLIN)
    before = day - timedelta(days=1)
    night_window = night.window(before)
    assert night_window is not None
    assert night_window[1] - night_window[0] == timedelta(minutes=480)


def test_weekends_and_holidays_count_nothing() -> None:
    holiday = date(2026, 12, 25)  # a Friday
    calendar = BusinessCalendar(
        weekday_minutes=WEEKDAYS_8H, exceptions={holiday: 0}, day_start=time(8, 0), tz=BERLIN
    )
    friday_noon = datetime(2026, 12, 18, 11, 0, tzinfo=UTC)  # 12:00 in Berlin
    # Friday 12:00 + 8 business hours = Monday 12:00 (the weekend counts nothing)
    assert calendar.add(friday_noon, 480) == datetime(2026, 12, 21, 11, 0, tzinfo=UTC)
    # Thursday 24 Dec 15:00 + 2 h: Friday is a holiday, so Monday 09:00
    thursday = datetime(2026, 12, 24, 14, 0, tzinfo=UTC)
    assert calendar.add(thursday, 120) == datetime(2026, 12, 28, 8, 0, tzinfo=UTC)
    saturday = datetime(2026, 12, 19, 0, 0, tzinfo=UTC)
    assert calendar.working_minutes(saturday, saturday + timedelta(days=2)) == 0
    assert calendar.add(friday_noon, 0) == friday_noon


def test_a_calendar_without_working_time_has_no_deadline() -> None:
    never = BusinessCalendar(weekday_minutes=(0,) * 7)
    assert never.add(datetime(2026, 1, 1, tzinfo=UTC), 1) is None
    always = BusinessCalendar.always()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert always.add(start, 90) == start + timedelta(minutes=90)


@pytest.mark.parametrize("text", ["8:00", "08-00", "ab:cd", "24:00", "0800"])
def test_day_start_is_hh_mm(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is not the point
        parse_day_start(text)
    assert parse_day_start("07:30") == time(7, 30)
