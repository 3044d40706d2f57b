"""The context an asset function receives: run id, asset key, logging, resources, metadata."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ..definitions.keys import AssetKey
from ..definitions.metadata import MetadataValue, normalize_metadata
from ..errors import MillraceError

if TYPE_CHECKING:
    from .cancel import CancelToken

_python_logger = logging.getLogger("millrace.assets")
T = TypeVar("T")

LogSink = Callable[[str, str], None]


class AssetLogger:
    """``context.log``: records become LOG events of the run (or Python logging outside one)."""

    __slots__ = ("_name", "_sink")

    def __init__(self, sink: LogSink | None, name: str) -> None:
        self._sink = sink
        self._name = name

    def log(self, level: str | int, msg: object, *args: object) -> None:
        name = level if isinstance(level, str) else logging.getLevelName(level)
        name = name.upper()
        text = str(msg) % args if args else str(msg)
        if self._sink is None:
            _python_logger.log(logging.getLevelName(name), "%s: %s", self._name, text)
        else:
            self._sink(name, text)

    def debug(self, msg: object, *args: object) -> None:
        self.log("DEBUG", msg, *args)

    def info(self, msg: object, *args: object) -> None:
        self.log("INFO", msg, *args)

    def warning(self, msg: object, *args: object) -> None:
        self.log("WARNING", msg, *args)

    warn = warning

    def error(self, msg: object, *args: object) -> None:
        self.log("ERROR", msg, *args)

    def critical(self, msg: object, *args: object) -> None:
        self.log("CRITICAL", msg, *args)

    def exception(self, msg: object, *args: object) -> None:
        import traceback

        self.log("ERROR", f"{str(msg) % args if args else msg}\n{traceback.format_exc()}")


class Resources:
    """``context.resources``: attribute access to the run's resources by key."""

    def __init__(self, resources: Mapping[str, Any]) -> None:
        self._resources = dict(resources)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._resources[name]
        except KeyError:
            have = ", ".join(sorted(self._resources)) or "none"
            raise AttributeError(
                f"no resource {name!r} in this run (resources: {have}); add it to "
                "Definitions(resources=...) and to the asset's required_resource_keys"
            ) from None

    def __contains__(self, name: str) -> bool:
        return name in self._resources

    def __iter__(self) -> Any:
        return iter(self._resources)


class AssetExecutionContext:
    """What ``def my_asset(context)`` receives; also built by ``build_asset_context``."""

    def __init__(
        self,
        *,
        run_id: str,
        asset_key: AssetKey | None,
        resources: Mapping[str, Any] | Resources | None = None,
        partition_key: str | None = None,
        log_sink: LogSink | None = None,
        retry_number: int = 0,
        assets_def: Any = None,
        previous_materialization: Any = None,
        cancel: CancelToken | None = None,
    ) -> None:
        self.run_id = run_id
        self._asset_key = asset_key
        self.resources = (
            resources if isinstance(resources, Resources) else Resources(resources or {})
        )
        self._partition_key = partition_key
        self.log = AssetLogger(log_sink, asset_key.to_user_string() if asset_key else "asset")
        self.retry_number = retry_number
        self.assets_def = assets_def
        self.output_metadata: dict[str, MetadataValue] = {}
        # The asset's latest materialization from before this run (None if never, or for
        # assets this run neither checks nor reads from storage): what a check compares to.
        self.previous_materialization = previous_materialization
        self._cancel = cancel

    @property
    def is_canceled(self) -> bool:
        """True once the run is canceled: a long ``def`` asset may poll it and return early
        (what it returns is then discarded, never stored)."""
        return self._cancel is not None and self._cancel.requested

    @property
    def asset_key(self) -> AssetKey:
        if self._asset_key is None:
            raise MillraceError(
                "this context is not bound to an asset; pass it to an asset function, or "
                "build_asset_context(asset_key=...)"
            )
        return self._asset_key

    @property
    def has_partition_key(self) -> bool:
        return self._partition_key is not None

    @property
    def partition_key(self) -> str:
        if self._partition_key is None:
            raise MillraceError(
                f"asset '{self.asset_key.to_user_string()}' is not running for a partition: "
                "context.partition_key exists only in partitioned runs"
            )
        return self._partition_key

    def add_output_metadata(
        self, metadata: Mapping[str, Any], output_name: str | None = None
    ) -> None:
        where = self._asset_key.to_user_string() if self._asset_key else "asset"
        self.output_metadata.update(normalize_metadata(metadata, where=where))

    def bind(self, asset_key: AssetKey, assets_def: Any) -> None:
        """Attach a context built by build_asset_context to the asset it is passed to."""
        if self._asset_key is None:
            self._asset_key = asset_key
            self.assets_def = assets_def
            self.log = AssetLogger(self.log._sink, asset_key.to_user_string())


def build_asset_context(
    resources: Mapping[str, Any] | None = None,
    partition_key: str | None = None,
    asset_key: Any = None,
    run_id: str = "test-run",
) -> AssetExecutionContext:
    """A context for calling an asset function directly in a unit test."""
    from ..definitions.keys import coerce_key

    return AssetExecutionContext(
        run_id=run_id,
        asset_key=coerce_key(asset_key) if asset_key is not None else None,
        resources=resources,
        partition_key=partition_key,
    )
