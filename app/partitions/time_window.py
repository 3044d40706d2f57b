"""Time-window partitions: a partition per window of a cron schedule, as Dagster defines them.

Window n runs from tick n to tick n + 1 of the schedule (``ticks.py``); tick 0 is the first
at or after ``start``. The last partition is the last window that has ended by now, moved by
``end_offset`` (1: the window in progress too; -1: one fewer), and never one that ends after
``end`` (excluded). A key is its window's start formatted with ``fmt`` (``formats.py``).

The start is fixed, so index n always names the same window: the store can keep statuses
as integer ranges. Keys come from a table built once per definition, grown as time passes;
a single key is parsed, not looked up in a list: ``has_partition_key`` is O(1).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from enum import Enum
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from ..errors import DefinitionsError, PartitionKeyError
from ..suggest import suggestion
from .definition import DynamicPartitionsStore, PartitionsDefinition
from .formats import KeyFormat
from .key_range import PartitionKeyRange
from .ticks import local, ticks_for

DEFAULT_DATE_FORMAT = "%Y-%m-%d"
DEFAULT_HOURLY_FORMAT_WITHOUT_TIMEZONE = "%Y-%m-%d-%H:%M"


class ScheduleType(Enum):
    """The cadence of a time-window definition (Dagster's)."""

    HOURLY = "HOURLY"
    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"


# Dagster's ``schedule_type`` property: which cron shape is which cadence.
_SHAPES = {
    ScheduleType.HOURLY: re.compile(r"\d+ \* \* \* \*"),
    ScheduleType.DAILY: re.compile(r"\d+ \d+ \* \* \*"),
    ScheduleType.WEEKLY: re.compile(r"\d+ \d+ \* \* \d+"),
    ScheduleType.MONTHLY: re.compile(r"\d+ \d+ \d+ \* \*"),
}


class TimeWindow(NamedTuple):
    """A partition's span: from ``start`` (included) to ``end`` (excluded), tz-aware."""

    start: datetime
    end: datetime


class TimeWindowPartitionsDefinition(PartitionsDefinition):
    """Partitions by ``cron_schedule`` (or ``schedule_type`` with offsets), Dagster's.

    ``start`` and ``end`` are strings in ``fmt`` or datetimes, read as wall times in
    ``timezone`` (a datetime's own tzinfo is replaced, as Dagster does). ``timezone`` is an
    IANA name; the default is UTC.
    """

    _plain_cron: str | None = None  # the subclass's schedule without offsets

    def __init__(
        self,
        start: datetime | str,
        fmt: str,
        end: datetime | str | None = None,
        schedule_type: ScheduleType | None = None,
        timezone: str | None = None,
        end_offset: int = 0,
        minute_offset: int | None = None,
        hour_offset: int | None = None,
        day_offset: int | None = None,
        cron_schedule: str | None = None,
    ) -> None:
        name = type(self).__name__
        self.timezone = timezone or "UTC"
        self.fmt = fmt
        self.end_offset = end_offset
        self._tz = _zone(self.timezone, name)
        self._start_ts = _instant(start, fmt, self._tz, f"{name}: start")
        self._end_ts = None if not end else _instant(end, fmt, self._tz, f"{name}: end")
        if cron_schedule is not None:
            if schedule_type is not None or minute_offset or hour_offset or day_offset:
                raise DefinitionsError(
                    f"{name}: pass cron_schedule, or schedule_type with offsets, not both"
                )
        elif schedule_type is None:
            raise DefinitionsError(f"{name}: pass schedule_type or cron_schedule")
        else:
            minute, hour = minute_offset or 0, hour_offset or 0
            cron_schedule = _cron_of(schedule_type, minute, hour, day_offset)
        self.cron_schedule = cron_schedule
        self._ticks = ticks_for(cron_schedule, self._start_ts, self._tz)
        self._format = KeyFormat(fmt, self._tz, self._ticks.hour_repeating)
        if self._format.format(self._ticks.at(0)) == self._format.format(self._ticks.at(1)):
            raise DefinitionsError(
                f"{name}: fmt {fmt!r} gives two windows of {cron_schedule!r} the same key"
            )
        self._lock = threading.Lock()
        self._table: list[str] = []  # the keys of windows 0, 1, ..., as far as asked
        self._index: dict[str, int] = {}

    @property
    def start(self) -> datetime:
        return local(self._start_ts, self._tz)

    @property
    def end(self) -> datetime | None:
        return None if self._end_ts is None else local(self._end_ts, self._tz)

    @property
    def schedule_type(self) -> ScheduleType | None:
        for schedule_type, shape in _SHAPES.items():
            if shape.fullmatch(self.cron_schedule):
                return schedule_type
        return None

    def get_partition_keys(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        count = self._last(self._now(current_time)) + 1
        return self._keys_upto(count)[:count] if count > 0 else []

    def get_num_partitions(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> int:
        return max(self._last(self._now(current_time)) + 1, 0)

    def get_first_partition_key(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> str | None:
        return self._key(0) if self._last(self._now(current_time)) >= 0 else None

    def get_last_partition_key(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> str | None:
        last = self._last(self._now(current_time))
        return self._key(last) if last >= 0 else None

    def has_partition_key(
        self,
        partition_key: str,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> bool:
        last = self._last(self._now(current_time))
        index = self._index_of(partition_key, last)
        return index is not None and 0 <= index <= last

    def partition_index(
        self,
        partition_key: str,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> int:
        last = self._last(self._now(current_time))
        index = self._index_of(partition_key, last)
        if index is None or not 0 <= index <= last:
            raise PartitionKeyError(self.invalid_key_message(partition_key, current_time))
        return index

    def partition_indices(
        self,
        partition_keys: Iterable[str],
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> list[int]:
        keys = list(partition_keys)
        last = self._last(self._now(current_time))
        if len(keys) > 16:  # worth the table (built once): a lookup per key
            self._keys_upto(last + 1)
        out = []
        for key in keys:
            index = self._index_of(key, last)
            if index is None or not 0 <= index <= last:
                raise PartitionKeyError(self.invalid_key_message(key, current_time))
            out.append(index)
        return out

    def key_at(
        self,
        index: int,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> str:
        count = self._last(self._now(current_time)) + 1
        if not 0 <= index < count:
            raise IndexError(f"{self!r} has {max(count, 0)} partitions: no index {index}")
        return self._key(index)

    def get_partition_keys_in_range(
        self,
        partition_key_range: PartitionKeyRange,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
        current_time: datetime | None = None,
    ) -> list[str]:
        first = self.partition_index(partition_key_range.start, current_time)
        last = self.partition_index(partition_key_range.end, current_time)
        return self.window_keys(first, last + 1)

    def time_window_for_partition_key(self, partition_key: str) -> TimeWindow:
        """The window a key names, whether or not it exists yet (or any more)."""
        index = self._index_of(partition_key, None)
        if index is None:
            raise PartitionKeyError(self.invalid_key_message(partition_key))
        return TimeWindow(self._ticks.at(index), self._ticks.at(index + 1))

    def get_partition_key_for_timestamp(self, timestamp: float, end_closed: bool = False) -> str:
        """The key of the window holding the instant: start <= t < end, or start < t <= end
        with ``end_closed``."""
        index = self._ticks.ceil(timestamp) - 1 if end_closed else self._ticks.floor(timestamp)
        return self._key(index)

    def window_keys(self, first: int, stop: int) -> list[str]:
        """The keys of windows ``first`` to ``stop - 1``, existing or not (for mappings)."""
        table = self._table
        if first >= 0 and stop <= len(table):
            return table[first:stop]
        return self._ticks.keys(first, stop, self._format)

    def window_start_ts(self, index: int) -> float:
        """The instant window ``index`` starts (for mappings)."""
        return self._ticks.ts(index)

    def window_at_or_after(self, ts: float) -> int:
        """The first window starting at or after the instant (for mappings)."""
        return self._ticks.ceil(ts)

    def window_at_or_before(self, ts: float) -> int:
        """The last window starting at or before the instant (for mappings)."""
        return self._ticks.floor(ts)

    def last_index(self, current_time: datetime | None = None) -> int:
        """The last partition's index as of ``current_time`` (-1: none yet)."""
        return self._last(self._now(current_time))

    def _now(self, current_time: datetime | None) -> float:
        if current_time is None:
            return time.time()
        if current_time.tzinfo is None:
            current_time = current_time.replace(tzinfo=self._tz)
        return current_time.timestamp()

    def _last(self, now_ts: float) -> int:
        if self._end_ts is not None and self._end_ts <= self._start_ts:
            return -1
        ticks = self._ticks
        # Before the first tick only end_offset can bring windows in: don't walk back far.
        ahead = self.end_offset
        if now_ts < ticks.ts(0) and (ahead <= 0 or ticks.ts(1 - ahead) > now_ts):
            return -1
        last = ticks.floor(now_ts) - 1 + self.end_offset
        if self._end_ts is not None:
            last = min(last, ticks.floor(self._end_ts) - 1)
        return last

    def _key(self, index: int) -> str:
        table = self._table
        if 0 <= index < len(table):
            return table[index]
        return self._format.format(self._ticks.at(index))

    def _keys_upto(self, count: int) -> list[str]:
        """The table of keys, grown to at least ``count`` keys."""
        table = self._table
        if len(table) < count:
            with self._lock:
                table = self._table
                if len(table) < count:
                    table = self._table = table + self._ticks.keys(len(table), count, self._format)
        return table

    def _indexed(self) -> dict[str, int]:
        """Each key of the table to its window, built when first looked up: a status pass
        over every key needs the keys, not their positions."""
        index, table = self._index, self._table
        if len(index) < len(table):
            with self._lock:
                start = len(index)
                index.update(zip(table[start:], range(start, len(table)), strict=True))
        return index

    def _index_of(self, partition_key: str, last: int | None) -> int | None:
        """The window a key names, or None. With ``last``, only a key that could name one of
        windows 0..last is looked at (so an absurd key never walks a cron schedule far)."""
        index = self._indexed().get(partition_key)
        if index is not None:
            return index
        ts = self._format.parse(partition_key)
        if ts is None:
            return None
        ticks = self._ticks
        # A key's instant is in (its window's previous tick, its window's tick].
        if last is not None and (last < 0 or ts <= ticks.ts(-1) or ts > ticks.ts(last)):
            return None
        index = ticks.ceil(ts)
        return index if self._key(index) == partition_key else None

    def _why_not(
        self,
        partition_key: str,
        current_time: datetime | None,
        dynamic_partitions_store: DynamicPartitionsStore | None,
    ) -> str:
        """Where the key falls in time: before the first, after the last, or between two."""
        last = self._last(self._now(current_time))
        if last < 0:
            return f"it has no partitions yet: the first, {self._key(0)}, ends {self._ticks.at(1)}"
        ts = self._format.parse(partition_key)
        if ts is None:
            ts = self._format.approximate(partition_key)
        if ts is None:
            return (
                f"keys look like {self._key(0)} (fmt {self.fmt!r}); they run from "
                f"{self._key(0)} to {self._key(last)}"
            )
        if ts <= self._ticks.ts(-1):  # a key of window 0 names an instant after tick -1
            return f"it is before the first partition, {self._key(0)}"
        if ts > self._ticks.ts(last):
            return f"it is after the last partition, {self._key(last)}"
        near = {self._ticks.floor(ts - 1), self._ticks.ceil(ts)}  # the windows either side
        keys = [self._key(index) for index in sorted(near) if 0 <= index <= last]
        return "nearest valid keys: " + ", ".join(keys)

    def _identity(self) -> tuple[object, ...]:
        return (
            self._start_ts,
            self._end_ts,
            self.timezone,
            self.fmt,
            self.end_offset,
            self.cron_schedule,
        )

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, TimeWindowPartitionsDefinition)
            and self._identity() == other._identity()
        )

    def __hash__(self) -> int:
        return hash(self._identity())

    def __repr__(self) -> str:
        parts = []
        if self.cron_schedule != self._plain_cron:
            parts.append(f"cron '{self.cron_schedule}'")
        parts.append(f"start {self._format.format(self.start)}")
        if self.end is not None:
            parts.append(f"end {self._format.format(self.end)}")
        if self.timezone != "UTC":
            parts.append(self.timezone)
        if self.end_offset:
            parts.append(f"end_offset {self.end_offset:+d}")
        return f"{type(self).__name__}({', '.join(parts)})"


class HourlyPartitionsDefinition(TimeWindowPartitionsDefinition):
    """A partition per hour, keys like ``2024-01-01-13:00`` (Dagster's)."""

    _plain_cron = "0 * * * *"

    def __init__(
        self,
        start_date: datetime | str,
        end_date: datetime | str | None = None,
        minute_offset: int = 0,
        timezone: str | None = None,
        fmt: str | None = None,
        end_offset: int = 0,
    ) -> None:
        super().__init__(
            start=start_date,
            fmt=fmt or DEFAULT_HOURLY_FORMAT_WITHOUT_TIMEZONE,
            end=end_date,
            schedule_type=ScheduleType.HOURLY,
            timezone=timezone,
            end_offset=end_offset,
            minute_offset=minute_offset,
        )


class DailyPartitionsDefinition(TimeWindowPartitionsDefinition):
    """A partition per day, keys like ``2024-01-01`` (Dagster's)."""

    _plain_cron = "0 0 * * *"

    def __init__(
        self,
        start_date: datetime | str,
        end_date: datetime | str | None = None,
        minute_offset: int = 0,
        hour_offset: int = 0,
        timezone: str | None = None,
        fmt: str | None = None,
        end_offset: int = 0,
    ) -> None:
        super().__init__(
            start=start_date,
            fmt=fmt or DEFAULT_DATE_FORMAT,
            end=end_date,
            schedule_type=ScheduleType.DAILY,
            timezone=timezone,
            end_offset=end_offset,
            minute_offset=minute_offset,
            hour_offset=hour_offset,
        )


class WeeklyPartitionsDefinition(TimeWindowPartitionsDefinition):
    """A partition per week from ``day_offset`` (0 = Sunday, Dagster's default)."""

    _plain_cron = "0 0 * * 0"

    def __init__(
        self,
        start_date: datetime | str,
        end_date: datetime | str | None = None,
        minute_offset: int = 0,
        hour_offset: int = 0,
        day_offset: int = 0,
        timezone: str | None = None,
        fmt: str | None = None,
        end_offset: int = 0,
    ) -> None:
        super().__init__(
            start=start_date,
            fmt=fmt or DEFAULT_DATE_FORMAT,
            end=end_date,
            schedule_type=ScheduleType.WEEKLY,
            timezone=timezone,
            end_offset=end_offset,
            minute_offset=minute_offset,
            hour_offset=hour_offset,
            day_offset=day_offset,
        )


class MonthlyPartitionsDefinition(TimeWindowPartitionsDefinition):
    """A partition per month from day ``day_offset`` (default the 1st), keys ``2024-01-01``."""

    _plain_cron = "0 0 1 * *"

    def __init__(
        self,
        start_date: datetime | str,
        end_date: datetime | str | None = None,
        minute_offset: int = 0,
        hour_offset: int = 0,
        day_offset: int = 1,
        timezone: str | None = None,
        fmt: str | None = None,
        end_offset: int = 0,
    ) -> None:
        super().__init__(
            start=start_date,
            fmt=fmt or DEFAULT_DATE_FORMAT,
            end=end_date,
            schedule_type=ScheduleType.MONTHLY,
            timezone=timezone,
            end_offset=end_offset,
            minute_offset=minute_offset,
            hour_offset=hour_offset,
            day_offset=day_offset,
        )


def _cron_of(schedule_type: ScheduleType, minute: int, hour: int, day: int | None) -> str:
    """Dagster's ``cron_schedule_from_schedule_type_and_offsets``."""
    if schedule_type is ScheduleType.HOURLY:
        return f"{minute} * * * *"
    if schedule_type is ScheduleType.DAILY:
        return f"{minute} {hour} * * *"
    if schedule_type is ScheduleType.WEEKLY:
        return f"{minute} {hour} * * {0 if day is None else day}"
    return f"{minute} {hour} {1 if day is None else day} * *"


def _zone(name: str, where: str) -> tzinfo:
    if name in ("UTC", "utc"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DefinitionsError(
            f"{where}: timezone {name!r} is not an IANA time zone"
            f"{suggestion(name, available_timezones())}"
        ) from None


def _instant(value: datetime | str, fmt: str, tz: tzinfo, where: str) -> float:
    """A start or end as an instant: a string in ``fmt``, or a datetime's wall time in ``tz``
    (Dagster's ``dst_safe_strptime`` and ``replace(tzinfo=...)``)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=tz).timestamp()
    ts = KeyFormat(fmt, tz, hour_repeating=False).parse(value)
    if ts is None:
        raise DefinitionsError(f"{where} {value!r} does not match fmt {fmt!r}")
    return ts
