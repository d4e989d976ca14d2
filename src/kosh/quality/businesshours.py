"""Business-hour arithmetic over a shift calendar (pure: no database, no clock).

A calendar gives working minutes per weekday, with dated exceptions (holidays: 0). The
working window of a day starts at `day_start` local time in the calendar's time zone and
lasts that many real minutes, so a day always holds exactly its calendar minutes, also
on the days the clocks change (a window that would run into the next day's is cut
there). All instants in and out are timezone-aware; UTC is the usual answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from kosh.core.types import is_digits

MAX_DAYS = 3700  # how far a deadline is searched: about ten years


@dataclass(frozen=True)
class BusinessCalendar:
    weekday_minutes: tuple[int, int, int, int, int, int, int]  # mon ... sun
    exceptions: Mapping[date, int] = field(default_factory=dict)
    day_start: time = time(0, 0)
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))

    @classmethod
    def always(cls) -> BusinessCalendar:
        """Every minute counts (a policy without a calendar)."""
        return cls(weekday_minutes=(1440,) * 7)

    def minutes_on(self, day: date) -> int:
        return self.exceptions.get(day, self.weekday_minutes[day.weekday()])

    def _start(self, day: date) -> datetime:
        return datetime.combine(day, self.day_start, tzinfo=self.tz).astimezone(UTC)

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The working interval [start, end) of a local day in UTC, or None."""
        minutes = self.minutes_on(day)
        if minutes <= 0:
            return None
        start = self._start(day)
        end = min(start + timedelta(minutes=minutes), self._start(day + timedelta(days=1)))
        return start, end

    def _days_from(self, moment: datetime) -> Iterator[date]:
        day = moment.astimezone(self.tz).date() - timedelta(days=1)
        for _ in range(MAX_DAYS):
            yield day
            day += timedelta(days=1)

    def working_seconds(self, start: datetime, end: datetime) -> int:
        """Working seconds in [start, end) (0 when end <= start)."""
        if end <= start:
            return 0
        total = 0.0
        last = end.astimezone(self.tz).date()
        for day in self._days_from(start):
            if day > last:
                break
            window = self.window(day)
            if window is None:
                continue
            low, high = max(start, window[0]), min(end, window[1])
            if high > low:
                total += (high - low).total_seconds()
        return int(total)

    def working_minutes(self, start: datetime, end: datetime) -> float:
        return self.working_seconds(start, end) / 60

    def add(self, start: datetime, minutes: float) -> datetime | None:
        """The instant `minutes` working minutes after `start` (start itself for 0), or
        None when the calendar has no working time in the next ten years."""
        remaining = timedelta(minutes=minutes)
        if remaining <= timedelta(0):
            return start.astimezone(UTC)
        for day in self._days_from(start):
            window = self.window(day)
            if window is None or window[1] <= start:
                continue
            low = max(start, window[0])
            available = window[1] - low
            if remaining <= available:
                return (low + remaining).astimezone(UTC)
            remaining -= available
        return None


def parse_day_start(text: str) -> time:
    """'HH:MM' (00:00 ... 23:59); ValueError otherwise."""
    hours, _, minutes = text.partition(":")
    if len(hours) != 2 or len(minutes) != 2 or not is_digits(hours + minutes):
        raise ValueError("HH:MM")
    return time(int(hours), int(minutes))
