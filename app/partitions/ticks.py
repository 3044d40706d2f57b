"""Where the windows of a time-window definition start: the ticks of its cron schedule.

Tick 0 is the first tick at or after the definition's start; negative ticks come before it
(a window a mapping needs that the upstream does not have). Hourly, daily, weekly and monthly
schedules (day of month up to 28, as in Dagster) are computed arithmetically: any tick, and
the tick of any instant, in O(1). Any other cron expression is walked with ``cronsim`` over
wall-clock times, remembering what it has found.

Daylight saving time, as Dagster decides it (``dagster._utils.schedules``):
- an hourly schedule fires every absolute hour: the skipped hour has no window, and the
  repeated hour has two (the second's key carries its UTC offset, see ``formats.py``);
- any other schedule resolves its wall time: one inside the skipped hour moves to the end of
  the gap (02:30 -> 03:00), and a repeated one is the later of the two; Dagster does both for
  wall times in the hours 1-3 only (``DAYLIGHT_SAVINGS_HOURS``), and so does this, except
  that a generic cron expression takes the later of two repeated times at any hour, as
  Dagster's croniter path does. So a daily window is 23 or 25 hours long on a change day.
"""

from __future__ import annotations

import math
import re
import threading
from abc import ABC, abstractmethod
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from datetime import date, datetime, timedelta, tzinfo

from cronsim import CronSim, CronSimError

from ..errors import DefinitionsError
from .formats import KeyFormat

_DST_HOURS = frozenset({1, 2, 3})
_HOURLY = re.compile(r"(\d+) \* \* \* \*")
_DAILY = re.compile(r"(\d+) (\d+) \* \* \*")
_WEEKLY = re.compile(r"(\d+) (\d+) \* \* (\d+)")
_MONTHLY = re.compile(r"(\d+) (\d+) (\d+) \* \*")


class Ticks(ABC):
    """The ticks of one schedule in one timezone, numbered from the definition's start."""

    hour_repeating: bool  # fires in every hour of the day (Dagster's "repeats every hour")

    @abstractmethod
    def at(self, n: int) -> datetime:
        """Tick ``n``, aware, in the schedule's timezone."""

    @abstractmethod
    def ceil(self, ts: float) -> int:
        """The first tick at or after the instant ``ts``."""

    def ts(self, n: int) -> float:
        return self.at(n).timestamp()

    def floor(self, ts: float) -> int:
        """The last tick at or before the instant ``ts``."""
        n = self.ceil(ts)
        return n if self.ts(n) == ts else n - 1

    def keys(self, first: int, stop: int, fmt: KeyFormat) -> list[str]:
        """The keys of the windows starting at ticks ``first`` to ``stop - 1``."""
        return [fmt.format(self.at(n)) for n in range(first, stop)]


def ticks_for(cron_schedule: str, start_ts: float, tz: tzinfo) -> Ticks:
    """The ticks of ``cron_schedule``: arithmetic for the four common shapes, else cronsim."""
    hourly = _HOURLY.fullmatch(cron_schedule)
    if hourly and int(hourly[1]) < 60:
        return HourlyTicks(start_ts, tz, int(hourly[1]))
    daily = _DAILY.fullmatch(cron_schedule)
    if daily and int(daily[1]) < 60 and int(daily[2]) < 24:
        return DailyTicks(start_ts, tz, int(daily[2]), int(daily[1]))
    weekly = _WEEKLY.fullmatch(cron_schedule)
    if weekly and int(weekly[1]) < 60 and int(weekly[2]) < 24 and int(weekly[3]) <= 7:
        return WeeklyTicks(start_ts, tz, int(weekly[2]), int(weekly[1]), int(weekly[3]) % 7)
    monthly = _MONTHLY.fullmatch(cron_schedule)
    if monthly and int(monthly[1]) < 60 and int(monthly[2]) < 24 and 1 <= int(monthly[3]) <= 28:
        return MonthlyTicks(start_ts, tz, int(monthly[2]), int(monthly[1]), int(monthly[3]))
    return CronTicks(cron_schedule, start_ts, tz)


def resolve_wall(wall: datetime, tz: tzinfo, *, later_at_any_hour: bool) -> datetime:
    """The instant a schedule's naive wall time means in ``tz`` (module docstring)."""
    first, second = wall.replace(tzinfo=tz, fold=0), wall.replace(tzinfo=tz, fold=1)
    before, after = _offset(first), _offset(second)
    if before == after:
        return first
    if before < after:  # the wall time falls in the skipped hour
        if wall.hour not in _DST_HOURS:
            return first
        return (wall.replace(minute=0, second=0, microsecond=0) + (after - before)).replace(
            tzinfo=tz
        )
    return second if later_at_any_hour or wall.hour in _DST_HOURS else first


def local(ts: float, tz: tzinfo) -> datetime:
    return datetime.fromtimestamp(ts, tz)


def _offset(moment: datetime) -> timedelta:
    offset = moment.utcoffset()
    assert offset is not None
    return offset


class HourlyTicks(Ticks):
    """Every absolute hour at a minute past it: tick n is tick 0 plus n hours."""

    hour_repeating = True

    def __init__(self, start_ts: float, tz: tzinfo, minute: int) -> None:
        self._tz = tz
        offset = _offset(local(start_ts, tz)).total_seconds()
        wall = start_ts + offset
        first = wall - wall % 3600 + minute * 60 - offset
        self._first = first if first >= start_ts else first + 3600

    def at(self, n: int) -> datetime:
        return local(self.ts(n), self._tz)

    def ts(self, n: int) -> float:
        return self._first + 3600 * n

    def ceil(self, ts: float) -> int:
        return math.ceil((ts - self._first) / 3600)

    def keys(self, first: int, stop: int, fmt: KeyFormat) -> list[str]:
        """A day at a time where the day's UTC offset is constant: its date text once, then
        the time of each hour from a table; tick by tick across an offset change."""
        if fmt.split is None:
            return super().keys(first, stop, fmt)
        out: list[str] = []
        n = first
        while n < stop:
            start = self.at(n)
            run = min(stop - n, 24 - start.hour)
            end = self.at(n + run - 1)
            if start.fold or end.utcoffset() != start.utcoffset():
                out.append(fmt.format(start))
                n += 1
                continue
            before, after = fmt.day_parts(start)
            times = fmt.times_of_day(start.minute)[start.hour : start.hour + run]
            out.extend([before + time + after for time in times])
            n += run
        return out


class CalendarTicks(Ticks):
    """A tick per period (day, week, month) at a wall time: tick n is period p0 + n."""

    hour_repeating = False

    def __init__(self, start_ts: float, tz: tzinfo, hour: int, minute: int) -> None:
        self._tz, self._hour, self._minute = tz, hour, minute
        self._first = 0  # so that tick n is period n while the first period is found
        period = self._period(local(start_ts, tz).date())
        while self.ts(period) < start_ts:
            period += 1
        while self.ts(period - 1) >= start_ts:
            period -= 1
        self._first = period

    @abstractmethod
    def _day(self, period: int) -> date:
        """The date of a period's tick."""

    @abstractmethod
    def _period(self, day: date) -> int:
        """The period a date falls in (its tick may come later that period)."""

    def at(self, n: int) -> datetime:
        day = self._day(self._first + n)
        wall = datetime(day.year, day.month, day.day, self._hour, self._minute)
        return resolve_wall(wall, self._tz, later_at_any_hour=False)

    def ceil(self, ts: float) -> int:
        n = self._period(local(ts, self._tz).date()) - self._first
        while self.ts(n) < ts:
            n += 1
        while self.ts(n - 1) >= ts:
            n -= 1
        return n


class DailyTicks(CalendarTicks):
    """A tick a day: the period is the date's ordinal."""

    def _day(self, period: int) -> date:
        return date.fromordinal(period)

    def _period(self, day: date) -> int:
        return day.toordinal()


class WeeklyTicks(CalendarTicks):
    """Cron's day of week: 0 is Sunday. Ordinal 1 (0001-01-01) is a Monday, so a date's
    cron weekday is its ordinal modulo 7."""

    def __init__(self, start_ts: float, tz: tzinfo, hour: int, minute: int, weekday: int) -> None:
        self._weekday = weekday
        super().__init__(start_ts, tz, hour, minute)

    def _day(self, period: int) -> date:
        return date.fromordinal(7 * period + self._weekday)

    def _period(self, day: date) -> int:
        return (day.toordinal() - self._weekday) // 7


class MonthlyTicks(CalendarTicks):
    """A tick a month on a day up to the 28th (every month has it): the period counts months."""

    def __init__(self, start_ts: float, tz: tzinfo, hour: int, minute: int, day: int) -> None:
        self._day_of_month = day
        super().__init__(start_ts, tz, hour, minute)

    def _day(self, period: int) -> date:
        return date(period // 12, period % 12 + 1, self._day_of_month)

    def _period(self, day: date) -> int:
        return day.year * 12 + day.month - 1


class CronTicks(Ticks):
    """Any 5-field cron expression, walked with cronsim over naive wall times and resolved
    with Dagster's rules; the ticks found are kept (both ways from the start)."""

    _CHUNK = 256

    def __init__(self, cron_schedule: str, start_ts: float, tz: tzinfo) -> None:
        if len(cron_schedule.split()) != 5:
            raise DefinitionsError(
                f"cron_schedule {cron_schedule!r}: Dagster's cron has 5 fields "
                "(minute hour day-of-month month day-of-week)"
            )
        try:
            probe = CronSim(cron_schedule, datetime(2000, 1, 1))
            next(probe)
        except (CronSimError, StopIteration) as exc:
            raise DefinitionsError(f"invalid cron_schedule {cron_schedule!r}: {exc}") from None
        self.hour_repeating = probe.hours == set(range(24))
        self._cron, self._tz, self._start = cron_schedule, tz, start_ts
        self._lock = threading.Lock()
        self._later: list[datetime] = []  # ticks 0, 1, 2, ...
        self._later_ts: list[float] = []
        self._earlier: list[datetime] = []  # ticks -1, -2, ...
        self._earlier_neg_ts: list[float] = []  # minus their instants: ascending, for bisect
        self._forward = self._walk(reverse=False)
        self._backward = self._walk(reverse=True)

    def at(self, n: int) -> datetime:
        if n >= 0:
            while len(self._later) <= n:
                self._extend(reverse=False)
            return self._later[n]
        while len(self._earlier) < -n:
            self._extend(reverse=True)
        return self._earlier[-n - 1]

    def ceil(self, ts: float) -> int:
        if ts > self.ts(0):
            while self._later_ts[-1] < ts:
                self._extend(reverse=False)
            return bisect_left(self._later_ts, ts)
        while not self._earlier_neg_ts or -self._earlier_neg_ts[-1] >= ts:
            self._extend(reverse=True)
        return -bisect_right(self._earlier_neg_ts, -ts)

    def _extend(self, *, reverse: bool) -> None:
        with self._lock:
            walk = self._backward if reverse else self._forward
            found = [next(walk) for _ in range(self._CHUNK)]
            if reverse:
                self._earlier.extend(found)
                self._earlier_neg_ts.extend(-moment.timestamp() for moment in found)
            else:
                self._later.extend(found)
                self._later_ts.extend(moment.timestamp() for moment in found)

    def _walk(self, *, reverse: bool) -> Iterator[datetime]:
        """The resolved ticks after (or before) the start, each instant once, in order."""
        # Two hours of margin: a wall time and its instant can be an hour or so apart.
        origin = local(self._start + (7200 if reverse else -7200), self._tz)
        naive = CronSim(self._cron, origin.replace(tzinfo=None), reverse=reverse)
        last: float | None = None
        for moment in self._resolved(naive, reverse):
            ts = moment.timestamp()
            if (ts >= self._start) == reverse:
                continue
            if last is None or (ts < last if reverse else ts > last):
                last = ts
                yield moment

    def _resolved(self, walls: Iterator[datetime], reverse: bool) -> Iterator[datetime]:
        """Wall times as instants. An hourly schedule skips a wall time that does not exist
        and fires at both of two that repeat: the repeated hour's walls come as one run, each
        once in the earlier offset, then each in the later one."""
        repeated: list[datetime] = []
        for wall in walls:
            first, second = wall.replace(tzinfo=self._tz), wall.replace(tzinfo=self._tz, fold=1)
            before, after = _offset(first), _offset(second)
            if self.hour_repeating and before > after:
                repeated.append(wall)
                continue
            if repeated:
                yield from _both_folds(repeated, self._tz, reverse)
                repeated = []
            if self.hour_repeating and before < after:
                continue
            yield resolve_wall(wall, self._tz, later_at_any_hour=True)


def _both_folds(walls: list[datetime], tz: tzinfo, reverse: bool) -> list[datetime]:
    earlier = [wall.replace(tzinfo=tz, fold=0) for wall in walls]
    later = [wall.replace(tzinfo=tz, fold=1) for wall in walls]
    return later + earlier if reverse else earlier + later
