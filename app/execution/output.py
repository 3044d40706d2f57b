"""What a step prints: captured per step as log records, so ``--json`` output stays JSON.

While a run is active, sys.stdout and sys.stderr are dispatchers: a write made for a step
(found through a ContextVar, so concurrent async steps on the loop thread stay apart) becomes
log records of that step, one per line, with the level STDOUT or STDERR; any other write goes
to the stream that was there before. STDOUT and STDERR are levels of their own, not INFO and
WARNING: a print is not a log record with a severity, and keeping the streams apart is what
Dagster's compute logs do.

Threads start with an empty context (Python 3.11 has no ``Thread(context=...)``), so while a
run is active ``Thread.start`` tags the new thread with the step that started it, and a
thread with no step in its context writes for the step of its tag: a thread an asset starts
(and the threads that one starts) prints into the asset's log. Once that step has ended, the
thread's writes go to the terminal again (a pool thread the asset left behind).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from contextvars import ContextVar, Token
from typing import Any, TextIO, TypeVar, cast

from .context import LogSink

T = TypeVar("T")

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

    def capturing(self) -> _Capturing:
        """Writes in this context (and in threads started from it) are this step's."""
        return _Capturing(self)

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


class _Capturing:
    """``OutputCapture.capturing()``: a class, not a generator context manager, because every
    step enters it at least once and a generator's setup costs a few microseconds more."""

    __slots__ = ("_capture", "_token")

    def __init__(self, capture: OutputCapture) -> None:
        self._capture = capture
        self._token: Token[OutputCapture | None] | None = None

    def __enter__(self) -> None:
        self._token = _capture.set(self._capture)

    def __exit__(self, *exc: object) -> None:
        assert self._token is not None
        _capture.reset(self._token)


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
