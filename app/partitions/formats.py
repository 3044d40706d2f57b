"""Time partition keys as strings: Dagster's format and parse rules, fast in bulk.

A key is the window's start formatted with ``fmt``. Dagster's ``dst_safe_strftime``: when a
schedule fires every hour, the second of two equal wall times (the hour repeated when clocks
go back) gets its UTC offset appended (``2024-11-03-01:00-0500``), unless ``fmt`` already has
``%z``. Parsing is ``dst_safe_strptime``: ``fmt``, else ``fmt`` plus ``%z``; a key without an
offset means the first of two equal wall times.

Formatting ten years of hourly keys one ``strftime`` at a time is most of a second, so the
format is split around its time of day: the date part is formatted once per day and the time
part once per hour of the day (``split``), when the format allows it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo

# A strftime directive (with glibc's flags) or a run of literal text.
_TOKEN = re.compile(r"%[-_0^#]?.|[^%]+")
_TIME_OF_DAY = set("HIMSpPklRTrXf")  # depend on the time of day
_DATE = set("aAbBhCdDeFgGjmuUVwWxyY")  # depend on the date alone
_LITERAL = set("%nt")
# What a lenient reading of a key can take from each directive (for "nearest valid keys").
_LENIENT = {"Y": r"(?P<Y>\d{4})", "m": r"(?P<m>\d{1,2})", "d": r"(?P<d>\d{1,2})"}
_LENIENT |= {c: rf"(?P<{c}>\d{{1,2}})" for c in "HMS"}


class KeyFormat:
    """Formats window starts as keys and parses keys back, for one definition."""

    def __init__(self, fmt: str, tz: tzinfo, hour_repeating: bool) -> None:
        self.fmt = fmt
        self._tz = tz
        # Only an hourly-or-faster schedule has two windows starting at the same wall time.
        self._marks_second = hour_repeating and "%z" not in fmt and tz is not UTC
        self.split = _split(fmt)
        self._times: dict[int, list[str]] = {}

    def format(self, start: datetime) -> str:
        """The key of the window starting at ``start`` (aware, in the definition's zone)."""
        key = start.strftime(self.fmt)
        if self._marks_second and start.fold and _is_second(start):
            return start.strftime(self.fmt + "%z")
        return key

    def parse(self, key: str) -> float | None:
        """The instant a key names (its window's start, or before it for a coarse format)."""
        try:
            parsed = datetime.strptime(key, self.fmt)
        except ValueError:
            if "%z" in self.fmt:
                return None
            try:
                parsed = datetime.strptime(key, self.fmt + "%z")
            except ValueError:
                return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=self._tz)
        return parsed.timestamp()

    def approximate(self, key: str) -> float | None:
        """The instant a malformed key seems to mean, fields carried over (month 13 is next
        January): for messages only. None when even the numbers do not line up."""
        pattern: list[str] = []
        taken: set[str] = set()
        for token in _TOKEN.findall(self.fmt):
            if not token.startswith("%"):
                pattern.append(re.escape(token))
            elif token == "%%":
                pattern.append("%")
            elif token == "%z":
                pattern.append(r"(?:[+-]\d{4})?")
            elif token[-1] in _LENIENT and token[-1] not in taken:
                taken.add(token[-1])
                pattern.append(_LENIENT[token[-1]])
            else:
                return None
        match = re.fullmatch("".join(pattern), key)
        if match is None or match.groupdict().get("Y") is None:
            return None
        fields = {name: int(value) for name, value in match.groupdict().items() if value}
        months = fields.get("m", 1) - 1
        try:
            wall = datetime(fields["Y"] + months // 12, months % 12 + 1, 1) + timedelta(
                days=fields.get("d", 1) - 1,
                hours=fields.get("H", 0),
                minutes=fields.get("M", 0),
                seconds=fields.get("S", 0),
            )
        except (ValueError, OverflowError):
            return None
        return wall.replace(tzinfo=self._tz).timestamp()

    def day_parts(self, day: datetime) -> tuple[str, str]:
        """The date-only text before and after the time of day, for ``split`` formats."""
        assert self.split is not None
        before, _, after = self.split
        return day.strftime(before), day.strftime(after) if after else ""

    def times_of_day(self, minute: int) -> list[str]:
        """The time-of-day text of each hour 0-23 at ``minute``, for ``split`` formats."""
        times = self._times.get(minute)
        if times is None:
            assert self.split is not None
            time_fmt = self.split[1]
            times = [datetime(2000, 1, 1, hour, minute).strftime(time_fmt) for hour in range(24)]
            self._times[minute] = times
        return times


def _split(fmt: str) -> tuple[str, str, str] | None:
    """``fmt`` as (date part, time-of-day part, date part), or None when its directives mix
    (e.g. ``%c``, ``%z``, or a date directive between two time ones)."""
    tokens = _TOKEN.findall(fmt)
    if "".join(tokens) != fmt:
        return None
    kinds = []
    for token in tokens:
        letter = token[-1] if token.startswith("%") else None
        if letter is None or letter in _LITERAL:
            kinds.append("literal")
        elif letter in _TIME_OF_DAY:
            kinds.append("time")
        elif letter in _DATE:
            kinds.append("date")
        else:
            return None
    times = [i for i, kind in enumerate(kinds) if kind == "time"]
    if not times:
        return fmt, "", ""
    first, last = times[0], times[-1]
    if "date" in kinds[first:last]:
        return None
    return "".join(tokens[:first]), "".join(tokens[first : last + 1]), "".join(tokens[last + 1 :])


def _is_second(start: datetime) -> bool:
    """Whether ``start`` is the later of two equal wall times (clocks went back)."""
    earlier, later = start.replace(fold=0).utcoffset(), start.utcoffset()
    return earlier is not None and later is not None and earlier > later
