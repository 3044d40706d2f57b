"""Partition mappings: which upstream partitions a downstream partition reads, and back.

Dagster's classes, names and arguments; the interface is plain key sequences instead of
Dagster's subset objects, because the planner asks per step:

- ``upstream_keys(downstream_keys, downstream_def, upstream_def)``: the upstream partitions
  those downstream partitions read, in the upstream's order (``.keys``; the identity mapping
  keeps the order given, the downstream's), and those they need
  that the upstream does not have (``.missing``: before its start, after its end or its last
  partition, or absent keys). Like Dagster, the mapping does not raise for them: the caller
  does, naming both assets.
- ``downstream_keys(upstream_keys, upstream_def, downstream_def)``: the downstream
  partitions that read any of those upstream partitions (staleness goes that way), existing
  ones only, in the downstream's order.
- ``validate_partition_mapping(upstream_def, downstream_def)``: at definition time, a clear
  ``DefinitionsError`` naming both definitions when the mapping cannot map them.
- ``default_partition_mapping(upstream_def, downstream_def)``: Dagster's inference.

Unpartitioned: an asset without partitions has the definition ``None`` and the key tuple
``()``, which stands for its one value. ``upstream_keys(keys, down_def, None)`` is ``()`` (each
partition reads the one value, nothing is missing); ``upstream_keys((), None, up_def)`` is what
the one downstream value reads; ``downstream_keys((), None, down_def)`` is what reads the one
upstream value. ``downstream_keys`` into an unpartitioned downstream has no keys to answer
with: whether its one value reads some upstream partitions is whether they meet
``upstream_keys((), None, up_def).keys``.

``allow_nonexistent_upstream_partitions`` follows Dagster's documentation (a window reaching
outside the upstream is an error unless allowed, then only the partitions that exist are
read), not Dagster's code, which also clamps offset windows to the upstream's bounds (a
7-day window at the start reads the days that exist, allowed or not; dagster-io/dagster#26935).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from itertools import product

from ..errors import DefinitionsError
from .definition import DynamicPartitionsStore, PartitionsDefinition, StaticPartitionsDefinition
from .multi import MultiPartitionKey, MultiPartitionsDefinition
from .ranges import index_runs
from .time_window import TimeWindowPartitionsDefinition

Keys = Sequence[str]
Mapper = Callable[[str], "UpstreamKeys"]  # one dimension key to the keys it maps to


@dataclass(frozen=True)
class UpstreamKeys:
    """The upstream partitions some downstream partitions read (``keys``, in the upstream's
    order) and those they need that do not exist (``missing``)."""

    keys: tuple[str, ...]
    missing: tuple[str, ...] = ()


class PartitionMapping(ABC):
    """How a downstream asset's partitions read an upstream asset's (module docstring)."""

    @abstractmethod
    def upstream_keys(
        self,
        downstream_keys: Keys,
        downstream_def: PartitionsDefinition | None,
        upstream_def: PartitionsDefinition | None,
        *,
        current_time: datetime | None = None,
        dynamic: DynamicPartitionsStore | None = None,
    ) -> UpstreamKeys:
        """The upstream partitions ``downstream_keys`` read."""

    @abstractmethod
    def downstream_keys(
        self,
        upstream_keys: Keys,
        upstream_def: PartitionsDefinition | None,
        downstream_def: PartitionsDefinition | None,
        *,
        current_time: datetime | None = None,
        dynamic: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        """The downstream partitions that read any of ``upstream_keys``."""

    @abstractmethod
    def validate_partition_mapping(
        self,
        upstream_partitions_def: PartitionsDefinition | None,
        downstream_partitions_def: PartitionsDefinition | None,
    ) -> None:
        """Raise ``DefinitionsError`` if this mapping cannot map the two definitions."""

    def _cannot(
        self,
        upstream_def: PartitionsDefinition | None,
        downstream_def: PartitionsDefinition | None,
        why: str,
    ) -> DefinitionsError:
        return DefinitionsError(
            f"{type(self).__name__} cannot map the partitions of {_name(downstream_def)} to "
            f"those of its upstream {_name(upstream_def)}: {why}"
        )


@dataclass(frozen=True)
class IdentityPartitionMapping(PartitionMapping):
    """Each downstream partition reads the upstream partition with the same key."""

    def upstream_keys(
        self,
        downstream_keys: Keys,
        downstream_def: PartitionsDefinition | None,
        upstream_def: PartitionsDefinition | None,
        *,
        current_time: datetime | None = None,
        dynamic: DynamicPartitionsStore | None = None,
    ) -> UpstreamKeys:
        if upstream_def is None:
            return UpstreamKeys(())
        if downstream_def == upstream_def:
            return UpstreamKeys(tuple(dict.fromkeys(downstream_keys)))
        keys, missing = _split_existing(upstream_def, downstream_keys, current_time, dynamic)
        return UpstreamKeys(keys, missing)

    def downstream_keys(
        self,
        upstream_keys: Keys,
        upstream_def: PartitionsDefinition | None,
        downstream_def: PartitionsDefinition | None,
        *,
        current_time: datetime | None = None,
        dynamic: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        downstream = _partitioned(downstream_def)
        if downstream == upstream_def:
            return list(dict.fromkeys(upstream_keys))
        return list(_split_existing(downstream, upstream_keys, current_time, dynamic)[0])

    def validate_partition_mapping(
        self,
        upstream_partitions_def: PartitionsDefinition | None,
        downstream_partitions_def: PartitionsDefinition | None,
    ) -> None:
        up, down = upstream_partitions_def, downstream_partitions_def
        if type(up) is not type(down):
            raise self._cannot(up, down, "the two must be partitioned the same way")
        if isinstance(up, StaticPartitionsDefinition) and isinstance(
            down, StaticPartitionsDefinition
        ):
            absent = [k for k in down.get_partition_keys() if not up.has_partition_key(k)]
            if absent:
                raise self._cannot(
                    up, down, f"the upstream has no partitions {', '.join(absent[:5])}"
                )


@dataclass(frozen=True)
class AllPartitionMapping(PartitionMapping):
    """Every downstream partition reads every upstream partition."""

    def upstream_keys(
        self,
        downstream_keys: Keys,
        downstream_def: PartitionsDefinition | None,
        upstream_def: PartitionsDefinition | None,
        *,
        current_time: datetime | None = None,
        dynamic: DynamicPartitionsStore | None = None,
    ) -> UpstreamKeys:
        if upstream_def is None:
            return UpstreamKeys(())
        return UpstreamKeys(tuple(upstream_def.get_partition_keys(current_time, dynamic)))

    def downstream_keys(
        self,
        upstream_keys: Keys,
        upstream_def: PartitionsDefinition | None,
        downstream_def: PartitionsDefinition | None,
        *,
        current_time: datetime | None = None,
        dynamic: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        downstream = _partitioned(downstream_def)
        if upstream_def is not None and not upstream_keys:
            return []
        return list(downstream.get_partition_keys(current_time, dynamic))

    def validate_partition_mapping(
        self,
        upstream_partitions_def: PartitionsDefinition | None,
        downstream_partitions_def: PartitionsDefinition | None,
    ) -> None:
        """It maps any two definitions."""


@dataclass(frozen=True)
class LastPartitionMapping(PartitionMapping):
    """Every downstream partition reads the upstream's last partition."""

    def upstream_keys(
        self,
        downstream_keys: Keys,
        downstream_def: PartitionsDefinition | None,
        upstream_def: PartitionsDefinition | None,
        *,
        current_time: datetime | None = None,
        dynamic: DynamicPartitionsStore | None = None,
    ) -> UpstreamKeys:
        if upstream_def is None:
            return UpstreamKeys(())
        last = upstream_def.get_last_partition_key(current_time, dynamic)
        return UpstreamKeys(() if last is None else (last,))

    def downstream_keys(
        self,
        upstream_keys: Keys,
        upstream_def: PartitionsDefinition | None,
        downstream_def: PartitionsDefinition | None,
        *,
        current_time: datetime | None = None,
        dynamic: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        last = self.upstream_keys(
            (), None, upstream_def, current_time=current_time, dynamic=dynamic
        )
        return _readers_of_fixed(
            last.keys, upstream_keys, upstream_def, downstream_def, current_time, dynamic
        )

    def validate_partition_mapping(
        self,
        upstream_partitions_def: PartitionsDefinition | None,
        downstream_partitions_def: PartitionsDefinition | None,
    ) -> None:
        """It maps any two definitions."""


def _readers_of_fixed(
    fixed: Keys,
    upstream_keys: Keys,
    upstream_def: PartitionsDefinition | None,
    downstream_def: PartitionsDefinition | None,
    current_time: datetime | None,
    dynamic: DynamicPartitionsStore | None,
) -> list[str]:
    """Every downstream partition reads the same ``fixed`` upstream keys: all of them read
    ``upstream_keys`` if those meet, none otherwise."""
    downstream = _partitioned(downstream_def)
    if upstream_def is not None and not set(fixed) & set(upstream_keys):
        return []
    return list(downstream.get_partition_keys(current_time, dynamic))


@dataclass(frozen=True)
class SpecificPartitionsPartitionMapping(PartitionMapping):
    """Every downstream partition reads the upstream partitions ``partition_keys``."""

    partition_keys: Sequence[str]

    def upstream_keys(
        self,
        downstream_keys: Keys,
        downstream_def: PartitionsDefinition | None,
        upstream_def: PartitionsDefinition | None,
        *,
        current_time: datetime | None = None,
        dynamic: DynamicPartitionsStore | None = None,
    ) -> UpstreamKeys:
        if upstream_def is None:
            return UpstreamKeys(())
        keys, missing = _split_existing(upstream_def, self.partition_keys, current_time, dynamic)
        return UpstreamKeys(_ordered(upstream_def, keys, current_time, dynamic), missing)

    def downstream_keys(
        self,
        upstream_keys: Keys,
        upstream_def: PartitionsDefinition | None,
        downstream_def: PartitionsDefinition | None,
        *,
        current_time: datetime | None = None,
        dynamic: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        return _readers_of_fixed(
            self.partition_keys, upstream_keys, upstream_def, downstream_def, current_time, dynamic
        )

    def validate_partition_mapping(
        self,
        upstream_partitions_def: PartitionsDefinition | None,
        downstream_partitions_def: PartitionsDefinition | None,
    ) -> None:
        """It maps any two definitions."""


@dataclass(frozen=True)
class StaticPartitionMapping(PartitionMapping):
    """An explicit correspondence between two static definitions: each upstream key to the
    downstream key (or keys) that read it."""

    downstream_partition_keys_by_upstream_partition_key: Mapping[str, str | Collection[str]]
    _downstream: dict[str, set[str]] = field(init=False, repr=False, compare=False)
    _upstream: dict[str, set[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        downstream: dict[str, set[str]] = {}
        upstream: dict[str, set[str]] = {}
        for up, downs in self.downstream_partition_keys_by_upstream_partition_key.items():
            targets = {downs} if isinstance(downs, str) else set(downs)
            downstream[up] = targets
            for down in targets:
                upstream.setdefault(down, set()).add(up)
        object.__setattr__(self, "_downstream", downstream)
        object.__setattr__(self, "_upstream", upstream)

    def upstream_keys(
        self,
        downstream_keys: Keys,
        downstream_def: PartitionsDefinition | None,
        upstream_def: PartitionsDefinition | None,
        *,
        current_time: datetime | None = None,
        dynamic: DynamicPartitionsStore | None = None,
    ) -> UpstreamKeys:
        if upstream_def is None:
            return UpstreamKeys(())
        found = {up for key in downstream_keys for up in self._upstream.get(key, ())}
        return UpstreamKeys(_ordered(upstream_def, found, current_time, dynamic))

    def downstream_keys(
        self,
        upstream_keys: Keys,
        upstream_def: PartitionsDefinition | None,
        downstream_def: PartitionsDefinition | None,
        *,
        current_time: datetime | None = None,
        dynamic: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        downstream = _partitioned(downstream_def)
        found = {down for key in upstream_keys for down in self._downstream.get(key, ())}
        return list(_ordered(downstream, found, current_time, dynamic))

    def validate_partition_mapping(
        self,
        upstream_partitions_def: PartitionsDefinition | None,
        downstream_partitions_def: PartitionsDefinition | None,
    ) -> None:
        up, down = upstream_partitions_def, downstream_partitions_def
        if not isinstance(up, StaticPartitionsDefinition) or not isinstance(
            down, StaticPartitionsDefinition
        ):
            raise self._cannot(up, down, "both must be StaticPartitionsDefinitions")
        sources = sorted(set(self._downstream) - set(up.get_partition_keys()))
        if sources:
            raise self._cannot(up, down, f"the upstream has no partitions {sources}")
        targets = sorted(set(self._upstream) - set(down.get_partition_keys()))
        if targets:
            raise self._cannot(up, down, f"the downstream has no partitions {targets}")


@dataclass(frozen=True)
class TimeWindowPartitionMapping(PartitionMapping):
    """A downstream partition reads the upstream partitions whose windows overlap its own,
    its start moved by ``start_offset`` windows and its end by ``end_offset`` (in the
    downstream's windows). Hourly upstream, daily downstream: the day's 24 hours (23 or 25
    on a DST change day)."""

    start_offset: int = 0
    end_offset: int = 0
    allow_nonexistent_upstream_partitions: bool = False

    def upstream_keys(
        self,
        downstream_keys: Keys,
        downstream_def: PartitionsDefinition | None,
        upstream_def: PartitionsDefinition | None,
        *,
        current_time: datetime | None = None,
        dynamic: DynamicPartitionsStore | None = None,
    ) -> UpstreamKeys:
        down, up = self._both(upstream_def, downstream_def)
        last = up.last_index(current_time)
        found: list[tuple[int, int]] = []
        missing: list[tuple[int, int]] = []
        for first, final in index_runs(down.partition_indices(downstream_keys, current_time)):
            lo = up.window_at_or_before(down.window_start_ts(first + self.start_offset))
            hi = up.window_at_or_after(down.window_start_ts(final + 1 + self.end_offset))
            if lo >= hi:
                continue
            if lo <= last and hi > 0:
                found.append((max(lo, 0), min(hi, last + 1)))
            if self.allow_nonexistent_upstream_partitions:
                continue
            if last < 0:
                missing.append((lo, hi))
                continue
            if lo < 0:
                missing.append((lo, min(hi, 0)))
            if hi > last + 1:
                missing.append((max(lo, last + 1), hi))
        return UpstreamKeys(_window_keys(up, found), _window_keys(up, missing))

    def downstream_keys(
        self,
        upstream_keys: Keys,
        upstream_def: PartitionsDefinition | None,
        downstream_def: PartitionsDefinition | None,
        *,
        current_time: datetime | None = None,
        dynamic: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        down, up = self._both(upstream_def, downstream_def)
        last = down.last_index(current_time)
        found: list[tuple[int, int]] = []
        for first, final in index_runs(up.partition_indices(upstream_keys, current_time)):
            # The downstream windows that overlap, moved the other way by the offsets.
            lo = down.window_at_or_before(up.window_start_ts(first)) - self.end_offset
            hi = down.window_at_or_after(up.window_start_ts(final + 1)) - self.start_offset
            lo, hi = max(lo, 0), min(hi, last + 1)
            if lo < hi:
                found.append((lo, hi))
        return list(_window_keys(down, found))

    def validate_partition_mapping(
        self,
        upstream_partitions_def: PartitionsDefinition | None,
        downstream_partitions_def: PartitionsDefinition | None,
    ) -> None:
        self._both(upstream_partitions_def, downstream_partitions_def)

    def _both(
        self,
        upstream_def: PartitionsDefinition | None,
        downstream_def: PartitionsDefinition | None,
    ) -> tuple[TimeWindowPartitionsDefinition, TimeWindowPartitionsDefinition]:
        """The (downstream, upstream) definitions, which must be time windows in one zone."""
        down, up = downstream_def, upstream_def
        if not isinstance(down, TimeWindowPartitionsDefinition) or not isinstance(
            up, TimeWindowPartitionsDefinition
        ):
            raise self._cannot(up, down, "both must be time-window partitioned")
        if down.timezone != up.timezone:
            raise self._cannot(up, down, f"timezones {up.timezone} and {down.timezone} differ")
        return down, up


@dataclass(frozen=True)
class _Dependency:
    """One dimension of a multi mapping: ``mapping`` between the upstream's dimension and the
    downstream's (None: that side has a single dimension)."""

    mapping: PartitionMapping
    upstream_dimension: str | None
    downstream_dimension: str | None


class _MultiMapping(PartitionMapping):
    """The mapping of mapped dimensions, crossed with every key of the unmapped ones."""

    @abstractmethod
    def _dependencies(
        self, upstream_def: PartitionsDefinition, downstream_def: PartitionsDefinition
    ) -> list[_Dependency]:
        """Which dimension maps to which, and how."""

    def upstream_keys(
        self,
        downstream_keys: Keys,
        downstream_def: PartitionsDefinition | None,
        upstream_def: PartitionsDefinition | None,
        *,
        current_time: datetime | None = None,
        dynamic: DynamicPartitionsStore | None = None,
    ) -> UpstreamKeys:
        if upstream_def is None:
            return UpstreamKeys(())
        down = _partitioned(downstream_def)
        links: dict[str | None, tuple[str | None, Mapper]] = {}
        for dep in self._dependencies(upstream_def, down):
            mapper: Mapper = partial(
                _upstream_of_one,
                dep.mapping,
                _dimension(down, dep.downstream_dimension),
                _dimension(upstream_def, dep.upstream_dimension),
                current_time,
                dynamic,
            )
            links[dep.upstream_dimension] = (dep.downstream_dimension, mapper)
        keys, missing = _cross(downstream_keys, down, upstream_def, links, current_time, dynamic)
        return UpstreamKeys(_ordered(upstream_def, keys, current_time, dynamic), missing)

    def downstream_keys(
        self,
        upstream_keys: Keys,
        upstream_def: PartitionsDefinition | None,
        downstream_def: PartitionsDefinition | None,
        *,
        current_time: datetime | None = None,
        dynamic: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        down = _partitioned(downstream_def)
        if upstream_def is None:
            return list(down.get_partition_keys(current_time, dynamic))
        links: dict[str | None, tuple[str | None, Mapper]] = {}
        for dep in self._dependencies(upstream_def, down):
            mapper: Mapper = partial(
                _downstream_of_one,
                dep.mapping,
                _dimension(upstream_def, dep.upstream_dimension),
                _dimension(down, dep.downstream_dimension),
                current_time,
                dynamic,
            )
            links[dep.downstream_dimension] = (dep.upstream_dimension, mapper)
        keys, _ = _cross(upstream_keys, upstream_def, down, links, current_time, dynamic)
        return list(_ordered(down, keys, current_time, dynamic))


@dataclass(frozen=True)
class MultiToSingleDimensionPartitionMapping(_MultiMapping):
    """Between a multi-partitioned asset and a single-dimensional one that is one of its
    dimensions (or a time window like its one time dimension): a key X on the single side
    goes with every multi key whose matching dimension is X."""

    partition_dimension_name: str | None = None

    def _dependencies(
        self, upstream_def: PartitionsDefinition, downstream_def: PartitionsDefinition
    ) -> list[_Dependency]:
        inferred = _infer_single_to_multi(
            upstream_def, downstream_def, self.partition_dimension_name
        )
        if isinstance(inferred, str):
            raise self._cannot(upstream_def, downstream_def, inferred)
        return [inferred]

    def validate_partition_mapping(
        self,
        upstream_partitions_def: PartitionsDefinition | None,
        downstream_partitions_def: PartitionsDefinition | None,
    ) -> None:
        up, down = upstream_partitions_def, downstream_partitions_def
        if up is None or down is None:
            raise self._cannot(up, down, "both must be partitioned")
        self._dependencies(up, down)


@dataclass(frozen=True)
class DimensionPartitionMapping:
    """For ``MultiPartitionMapping``: the downstream dimension an upstream dimension maps to,
    and how."""

    dimension_name: str
    partition_mapping: PartitionMapping


@dataclass(frozen=True)
class MultiPartitionMapping(_MultiMapping):
    """Between two multi-partitioned assets, per upstream dimension name; a dimension not
    named maps all to all (Dagster's)."""

    downstream_mappings_by_upstream_dimension: Mapping[str, DimensionPartitionMapping]

    def _dependencies(
        self, upstream_def: PartitionsDefinition, downstream_def: PartitionsDefinition
    ) -> list[_Dependency]:
        self.validate_partition_mapping(upstream_def, downstream_def)
        return [
            _Dependency(
                m.partition_mapping, upstream_dimension=up, downstream_dimension=m.dimension_name
            )
            for up, m in self.downstream_mappings_by_upstream_dimension.items()
        ]

    def validate_partition_mapping(
        self,
        upstream_partitions_def: PartitionsDefinition | None,
        downstream_partitions_def: PartitionsDefinition | None,
    ) -> None:
        up, down = upstream_partitions_def, downstream_partitions_def
        if not isinstance(up, MultiPartitionsDefinition) or not isinstance(
            down, MultiPartitionsDefinition
        ):
            raise self._cannot(up, down, "both must be MultiPartitionsDefinitions")
        targets = [
            m.dimension_name for m in self.downstream_mappings_by_upstream_dimension.values()
        ]
        for name in self.downstream_mappings_by_upstream_dimension:
            if name not in up.partition_dimension_names:
                raise self._cannot(up, down, f"the upstream has no dimension {name!r}")
        for name in targets:
            if name not in down.partition_dimension_names:
                raise self._cannot(up, down, f"the downstream has no dimension {name!r}")
        if len(set(targets)) != len(targets):
            raise self._cannot(up, down, f"a downstream dimension is mapped twice: {targets}")


def default_partition_mapping(
    upstream_def: PartitionsDefinition | None, downstream_def: PartitionsDefinition | None
) -> PartitionMapping:
    """Dagster's ``infer_partition_mapping``: either side unpartitioned, all partitions; a
    single dimension that is (or is timed like) a dimension of a multi definition on the other
    side, that dimension; two time windows, overlapping windows; otherwise the same keys."""
    if upstream_def is None or downstream_def is None:
        return AllPartitionMapping()
    if isinstance(_infer_single_to_multi(upstream_def, downstream_def, None), _Dependency):
        return MultiToSingleDimensionPartitionMapping()
    if isinstance(upstream_def, TimeWindowPartitionsDefinition) and isinstance(
        downstream_def, TimeWindowPartitionsDefinition
    ):
        return TimeWindowPartitionMapping()
    return IdentityPartitionMapping()


def _infer_single_to_multi(
    upstream_def: PartitionsDefinition,
    downstream_def: PartitionsDefinition,
    dimension_name: str | None,
) -> _Dependency | str:
    """Dagster's ``get_infer_single_to_multi_dimension_deps_result``: the dimension of the
    multi side that the single side matches, or why there is none."""
    multis = [d for d in (upstream_def, downstream_def) if isinstance(d, MultiPartitionsDefinition)]
    if len(multis) != 1:
        return (
            "one side must be multi-partitioned and the other single-dimensional; "
            f"{len(multis)} are multi-partitioned"
        )
    multi = multis[0]
    single = downstream_def if multi is upstream_def else upstream_def
    dims = [d for d in multi.partitions_defs if dimension_name in (None, d.name)]
    if not dims:
        return f"{multi!r} has no dimension {dimension_name!r}"
    upstream_is_multi = multi is upstream_def

    def dependency(mapping: PartitionMapping, name: str) -> _Dependency:
        return _Dependency(
            mapping,
            upstream_dimension=name if upstream_is_multi else None,
            downstream_dimension=None if upstream_is_multi else name,
        )

    same = [d for d in dims if d.partitions_def == single]
    if len(same) == 1:
        return dependency(IdentityPartitionMapping(), same[0].name)
    if len(same) > 1:
        return "several dimensions match it: name one with partition_dimension_name"
    times = [d for d in dims if isinstance(d.partitions_def, TimeWindowPartitionsDefinition)]
    if len(times) == 1 and isinstance(single, TimeWindowPartitionsDefinition):
        return dependency(TimeWindowPartitionMapping(), times[0].name)
    return (
        f"{single!r} must be a dimension of {multi!r}, or a time window while it has one time "
        "dimension"
    )


def _cross(
    keys: Keys,
    source_def: PartitionsDefinition,
    target_def: PartitionsDefinition,
    links: Mapping[str | None, tuple[str | None, Mapper]],
    current_time: datetime | None,
    dynamic: DynamicPartitionsStore | None,
) -> tuple[list[str], tuple[str, ...]]:
    """The target keys the source keys map to, and those required that do not exist.

    ``links``: per target dimension (None: the target is single), the source dimension it
    depends on and how one key of it maps. A target dimension without a link takes all its
    keys. Each source dimension key is mapped once; the dimensions' results are crossed.
    """
    names: list[str | None] = (
        list(target_def.partition_dimension_names)
        if isinstance(target_def, MultiPartitionsDefinition)
        else [None]
    )
    every = {
        name: tuple(_dimension(target_def, name).get_partition_keys(current_time, dynamic))
        for name in names
        if name not in links
    }
    memo: dict[tuple[str | None, str], UpstreamKeys] = {}
    found: dict[str, None] = {}
    missing: dict[str, None] = {}
    for key in keys:
        parts = _parts(source_def, key)
        existing: list[Sequence[str]] = []
        required: list[Sequence[str]] = []
        for name in names:
            if name not in links:
                existing.append(every[name])
                required.append(every[name])
                continue
            source, mapper = links[name]
            part = parts[source]
            if (name, part) not in memo:
                memo[name, part] = mapper(part)
            result = memo[name, part]
            existing.append(result.keys)
            required.append(result.keys + result.missing)
        found.update(dict.fromkeys(_join(target_def, combo) for combo in product(*existing)))
        if any(len(r) != len(e) for r, e in zip(required, existing, strict=True)):
            for combo in product(*required):
                joined = _join(target_def, combo)
                if joined not in found:
                    missing[joined] = None
    return list(found), tuple(missing)


def _upstream_of_one(
    mapping: PartitionMapping,
    downstream_def: PartitionsDefinition,
    upstream_def: PartitionsDefinition,
    current_time: datetime | None,
    dynamic: DynamicPartitionsStore | None,
    key: str,
) -> UpstreamKeys:
    return mapping.upstream_keys(
        (key,), downstream_def, upstream_def, current_time=current_time, dynamic=dynamic
    )


def _downstream_of_one(
    mapping: PartitionMapping,
    upstream_def: PartitionsDefinition,
    downstream_def: PartitionsDefinition,
    current_time: datetime | None,
    dynamic: DynamicPartitionsStore | None,
    key: str,
) -> UpstreamKeys:
    found = mapping.downstream_keys(
        (key,), upstream_def, downstream_def, current_time=current_time, dynamic=dynamic
    )
    return UpstreamKeys(tuple(found))


def _parts(definition: PartitionsDefinition, key: str) -> dict[str | None, str]:
    if isinstance(definition, MultiPartitionsDefinition):
        by_name = definition.get_partition_key_from_str(key).keys_by_dimension
        return {name: part for name, part in by_name.items()}
    return {None: key}


def _join(definition: PartitionsDefinition, parts: tuple[str, ...]) -> str:
    if isinstance(definition, MultiPartitionsDefinition):
        return MultiPartitionKey(
            dict(zip(definition.partition_dimension_names, parts, strict=True))
        )
    return parts[0]


def _dimension(definition: PartitionsDefinition, name: str | None) -> PartitionsDefinition:
    if name is None:
        return definition
    assert isinstance(definition, MultiPartitionsDefinition)
    return definition.get_partitions_def_for_dimension(name)


def _partitioned(definition: PartitionsDefinition | None) -> PartitionsDefinition:
    if definition is None:
        raise ValueError(
            "an unpartitioned downstream has no keys: its one value reads the upstream "
            "partitions upstream_keys((), None, upstream_def) names"
        )
    return definition


def _split_existing(
    definition: PartitionsDefinition,
    keys: Iterable[str],
    current_time: datetime | None,
    dynamic: DynamicPartitionsStore | None,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The keys ``definition`` has, and those it lacks, each in the order given."""
    has: list[str] = []
    lacks: list[str] = []
    for key in dict.fromkeys(keys):
        (has if definition.has_partition_key(key, current_time, dynamic) else lacks).append(key)
    return tuple(has), tuple(lacks)


def _ordered(
    definition: PartitionsDefinition,
    keys: Collection[str],
    current_time: datetime | None,
    dynamic: DynamicPartitionsStore | None,
) -> tuple[str, ...]:
    """Existing keys in the definition's order."""
    indices = definition.partition_indices(keys, current_time, dynamic)
    return tuple(key for _, key in sorted(zip(indices, keys, strict=True)))


def _window_keys(
    definition: TimeWindowPartitionsDefinition, ranges: list[tuple[int, int]]
) -> tuple[str, ...]:
    """The keys of the windows in half-open index ranges, merged, in order."""
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return tuple(key for lo, hi in merged for key in definition.window_keys(lo, hi))


def _name(definition: PartitionsDefinition | None) -> str:
    return "an unpartitioned asset" if definition is None else repr(definition)
