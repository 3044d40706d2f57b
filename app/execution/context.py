"""The context an asset function receives: run id, asset key, logging, resources, metadata;
and the capture of what a step prints."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TextIO, TypeVar, cast

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


# -- what a step prints ----------------------------------------------------------------------
#
# While a run is active, sys.stdout and sys.stderr are dispatchers: a write made for a step
# (found through a ContextVar, so concurrent async steps on the loop thread stay apart) becomes
# log records of that step, one per line, with the level STDOUT or STDERR; any other write goes
# to the stream that was there before. STDOUT and STDERR are levels of their own, not INFO and
# WARNING: a print is not a log record with a severity, and keeping the streams apart is what
# Dagster's compute logs do.
#
# Threads start with an empty context (Python 3.11 has no ``Thread(context=...)``), so while a
# run is active ``Thread.start`` tags the new thread with the step that started it, and a
# thread with no step in its context writes for the step of its tag: a thread an asset starts
# (and the threads that one starts) prints into the asset's log. Once that step has ended, the
# thread's writes go to the terminal again (a pool thread the asset left behind).

STDOUT, STDERR = "STDOUT", "STDERR"
_TAG = "_millrace_output"
_capture: ContextVar[OutputCapture | None] = ContextVar("millrace_output")


class OutputCapture:
    """A log sink and the lines printed for it: by one attempt of one step, or by the run's
    resource code (which runs in no step)."""

    __slots__ = ("__weakref__", "_lock", "_partial", "_sink", "open")

    def __init__(self, sink: LogSink) -> None:
        self._sink = sink
        self._lock = threading.Lock()
        self._partial: dict[tuple[int, str], str] = {}  # per thread and stream: a line so far
        self.open = True

    def log(self, level: str, message: str) -> None:
        """Emit a record; what emitting writes (a printer, on the loop) is not the step's."""
        token = _capture.set(None)
        try:
            self._sink(level, message)
        finally:
            _capture.reset(token)

    @contextlib.contextmanager
    def capturing(self) -> Iterator[None]:
        """Writes in this context (and in threads started from it) are this step's."""
        token = _capture.set(self)
        try:
            yield
        finally:
            _capture.reset(token)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)``, capturing what it prints, on whichever thread it runs."""
        with self.capturing():
            return fn(*args)

    def write(self, level: str, text: str) -> bool:
        """Log each complete line of ``text``; False once the step has ended."""
        key = (threading.get_ident(), level)
        with self._lock:  # held while emitting, so each thread's lines keep their order
            if not self.open:
                return False
            *lines, rest = (self._partial.pop(key, "") + text).split("\n")
            if rest:
                self._partial[key] = rest
            for line in lines:
                self.log(level, line.removesuffix("\r"))
        return True

    def close(self) -> None:
        """The step has ended: log unfinished lines; later writes go to the terminal."""
        with self._lock:
            self.open = False
            for (_, level), line in self._partial.items():
                self.log(level, line)
            self._partial.clear()


def _owner() -> OutputCapture | None:
    """The step the current write is for, if it is still running."""
    try:
        owner = _capture.get()
    except LookupError:  # a thread's own, empty context: the step that started the thread
        tag = getattr(threading.current_thread(), _TAG, None)
        owner = tag() if tag is not None else None
    return owner if owner is not None and owner.open else None


class _Dispatcher:
    """``sys.stdout`` or ``sys.stderr`` while a run is active; anything but ``write`` is the
    replaced stream's (``fileno``, ``encoding``, ``isatty``...)."""

    def __init__(self, target: TextIO, level: str) -> None:
        self.target = target
        self.level = level

    def write(self, text: str) -> int:
        owner = _owner()
        if owner is None or not owner.write(self.level, text):
            return self.target.write(text)
        if not _state.views:  # nothing shows the log: the terminal does, as without Millrace
            self.target.write(text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)


def _start(thread: threading.Thread) -> None:
    """``Thread.start`` while a run is active: the new thread inherits the starter's step."""
    owner = _owner()
    if owner is not None:
        setattr(thread, _TAG, weakref.ref(owner))
    _state.start(thread)


class _State:
    """What the dispatchers replaced, and how many runs and views need them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runs = 0
        self.views = 0
        self.stdout: _Dispatcher | None = None
        self.stderr: _Dispatcher | None = None
        self.start: Callable[[threading.Thread], None] = threading.Thread.start


_state = _State()


@contextlib.contextmanager
def capturing_output() -> Iterator[None]:
    """For the duration of one run: dispatch prints to the steps that make them. The first of
    concurrent runs installs the dispatchers, the last one out puts the streams back (unless
    something replaced them meanwhile, which then is its own to restore)."""
    with _state.lock:
        if _state.runs == 0:
            _state.stdout = _Dispatcher(sys.stdout, STDOUT)
            _state.stderr = _Dispatcher(sys.stderr, STDERR)
            sys.stdout, sys.stderr = cast(TextIO, _state.stdout), cast(TextIO, _state.stderr)
            _state.start = threading.Thread.start
            setattr(threading.Thread, "start", _start)  # noqa: B010 (mypy: a method)
        _state.runs += 1
    token = _capture.set(None)  # the run's own work is no step's, whatever thread runs it
    try:
        yield
    finally:
        _capture.reset(token)
        with _state.lock:
            _state.runs -= 1
            if _state.runs == 0:
                if sys.stdout is _state.stdout:
                    sys.stdout = _state.stdout.target
                if sys.stderr is _state.stderr:
                    sys.stderr = _state.stderr.target
                if threading.Thread.start is _start:
                    setattr(threading.Thread, "start", _state.start)  # noqa: B010
                _state.stdout = _state.stderr = None


def show_step_output() -> Callable[[], None]:
    """A view that prints the runs' LOG events (console.py) calls this: while one is open,
    a step's prints are only logged, so ``--json`` stdout stays JSON; with none (``materialize``
    in a script or notebook) they are also written through. Returns the release."""
    with _state.lock:
        _state.views += 1
    released = False

    def release() -> None:
        nonlocal released
        with _state.lock:
            if not released:
                released = True
                _state.views -= 1

    return release
