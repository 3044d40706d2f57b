"""Cron tick math for schedules, in an execution timezone, over ``partitions/ticks.py``.

A schedule and a time-window partitions definition with the same cron string tick at the same
instants, so both use one implementation. Daylight saving time follows Dagster
(``dagster._utils.schedules``, see ``ticks.py``):
- an hourly schedule ticks every absolute hour: none in the skipped hour, two in the repeated
  hour (01:30 EDT, then 01:30 EST);
- any other schedule resolves its wall time: one inside the skipped hour runs at the end of the
  gap (a daily 02:30 runs at 03:00 on a spring-forward day), and one in the repeated hour runs
  once, at the later of the two instants (01:30 EST, not EDT).
Unlike Vixie cron, which runs a skipped time once just after the gap and a repeated time
only once (the first), Dagster runs each daily schedule exactly once a day.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

from ..errors import DefinitionsError
from ..partitions.ticks import Ticks, ticks_for
from ..partitions.time_window import _zone


class CronSchedule:
    """The ticks of one or more cron strings (Dagster accepts a list: their union) in an IANA
    timezone. Instants are POSIX timestamps or aware datetimes; results are aware datetimes
    in the timezone. Ticks are numbered from the first instant asked about, so an arbitrary
    cron expression is only walked near the instants in use."""

    def __init__(self, cron_schedule: str | Sequence[str], timezone: str | None = None) -> None:
        crons = [cron_schedule] if isinstance(cron_schedule, str) else list(cron_schedule)
        if not crons or not all(isinstance(cron, str) for cron in crons):
            raise DefinitionsError(
                f"cron_schedule {cron_schedule!r}: a cron string or a non-empty list of them"
            )
        self.cron_schedules = tuple(cron.strip() for cron in crons)
        self.timezone = timezone or "UTC"
        self.tz: tzinfo = _zone(self.timezone, "execution_timezone")
        self._ticks: list[Ticks] = []
        for cron in self.cron_schedules:
            ticks_for(cron, 0.0, self.tz)  # validates now; numbered later, near its use

    def next_tick_after(self, instant: float | datetime) -> datetime:
        """The first tick strictly after ``instant``."""
        ts = _ts(instant, self.tz)
        return min((t.at(t.floor(ts) + 1) for t in self._all(ts)), key=_instant)

    def previous_tick(self, instant: float | datetime) -> datetime:
        """The last tick at or before ``instant``."""
        ts = _ts(instant, self.tz)
        return max((t.at(t.floor(ts)) for t in self._all(ts)), key=_instant)

    def ticks_between(self, after: float | datetime, until: float | datetime) -> list[datetime]:
        """The ticks in ``(after, until]``, in order, each instant once: the ticks a loop that
        last looked at ``after`` owes at ``until``."""
        start, end = _ts(after, self.tz), _ts(until, self.tz)
        found: dict[float, datetime] = {}
        for ticks in self._all(start):
            for n in range(ticks.floor(start) + 1, ticks.floor(end) + 1):
                moment = ticks.at(n)
                found.setdefault(moment.timestamp(), moment)
        return [found[ts] for ts in sorted(found)]

    def _all(self, ts: float) -> list[Ticks]:
        if not self._ticks:
            self._ticks = [ticks_for(cron, ts, self.tz) for cron in self.cron_schedules]
        return self._ticks

    def __repr__(self) -> str:
        crons = self.cron_schedules[0] if len(self.cron_schedules) == 1 else self.cron_schedules
        return f"CronSchedule({crons!r}, {self.timezone!r})"


def _ts(instant: float | datetime, tz: tzinfo) -> float:
    """A naive datetime is a wall time in the schedule's timezone."""
    if isinstance(instant, datetime):
        return (instant if instant.tzinfo else instant.replace(tzinfo=tz)).timestamp()
    return float(instant)


def _instant(moment: datetime) -> float:
    return moment.timestamp()
