"""The event bus: ids at publish on any thread, delivery on the loop's thread, in id order."""

from __future__ import annotations

import asyncio
import dataclasses
import pickle
import threading

import pytest
from millrace.events import EVENT_TYPES, Event, EventBus, LogMessage, StepEvent, StepStarted

TIMEOUT = 10


def _message(text: str) -> LogMessage:
    return LogMessage(run_id="r", level="INFO", message=text)


async def test_events_from_threads_reach_subscribers_on_the_loop_in_id_order() -> None:
    bus = EventBus()
    bus.bind(asyncio.get_running_loop())
    loop_thread = threading.get_ident()
    seen: list[tuple[int, str, int]] = []
    all_seen = asyncio.Event()

    def record(event: LogMessage) -> None:
        seen.append((event.seq, event.message, threading.get_ident()))
        if len(seen) == 800:
            all_seen.set()  # on the loop's thread, as every delivery

    bus.subscribe(record)

    def publish_many(name: str) -> None:
        for n in range(200):
            bus.publish(_message(f"{name}{n}"))

    threads = [threading.Thread(target=publish_many, args=(f"t{i}-",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        await asyncio.to_thread(thread.join, TIMEOUT)
    await asyncio.wait_for(all_seen.wait(), TIMEOUT)
    assert [seq for seq, _, _ in seen] == list(range(1, 801))  # each once, in id order
    assert {ident for _, _, ident in seen} == {loop_thread}
    for i in range(4):  # and each thread's events in the order it published them
        mine = [text for _, text, _ in seen if text.startswith(f"t{i}-")]
        assert mine == [f"t{i}-{n}" for n in range(200)]


async def test_a_publish_on_the_loop_first_delivers_what_threads_queued_before_it() -> None:
    bus = EventBus()
    bus.bind(asyncio.get_running_loop())
    seen: list[str] = []
    bus.subscribe(lambda e: seen.append(e.message))
    worker = threading.Thread(target=lambda: bus.publish(_message("from a worker")))
    worker.start()
    worker.join(TIMEOUT)
    assert seen == []  # queued: the loop has not run since
    bus.publish(_message("on the loop"))
    assert seen == ["from a worker", "on the loop"]


async def test_a_subscriber_publishing_has_its_event_delivered_after_the_current_one() -> None:
    bus = EventBus()
    bus.bind(asyncio.get_running_loop())
    seen: list[str] = []

    def echo(event: LogMessage) -> None:
        seen.append(event.message)
        if event.message == "first":
            bus.publish(_message("echo"))

    bus.subscribe(echo)
    bus.subscribe(lambda e: seen.append(f"second subscriber: {e.message}"))
    bus.publish(_message("first"))
    assert seen == ["first", "second subscriber: first", "echo", "second subscriber: echo"]


async def test_an_at_publish_subscriber_sees_a_threads_event_before_the_loop_does() -> None:
    bus = EventBus()
    bus.bind(asyncio.get_running_loop())
    at_publish: list[tuple[str, int]] = []
    delivered: list[str] = []
    bus.subscribe_at_publish(lambda e: at_publish.append((e.message, threading.get_ident())))
    bus.subscribe(lambda e: delivered.append(e.message))
    worker = threading.Thread(target=lambda: bus.publish(_message("made")))
    worker.start()
    worker.join(TIMEOUT)
    assert at_publish == [("made", worker.ident)] and delivered == []
    bus.drain()
    assert delivered == ["made"]


def test_an_unbound_bus_delivers_at_once() -> None:
    bus = EventBus()
    seen: list[int] = []
    bus.subscribe(lambda e: seen.append(e.seq))
    bus.publish(_message("a"))
    assert seen == [1]


@pytest.mark.parametrize("kind", [Event, StepEvent, *EVENT_TYPES.values()])
def test_every_kind_compares_hashes_prints_and_pickles_as_a_frozen_dataclass(kind: type) -> None:
    names = [f.name for f in dataclasses.fields(kind)]
    event = kind(run_id="r", timestamp=1.0)
    shown = ", ".join(f"{name}={getattr(event, name)!r}" for name in names)
    assert repr(event) == f"{kind.__qualname__}({shown})"
    assert event == kind(run_id="r", timestamp=1.0)
    assert event != dataclasses.replace(event, seq=1)
    assert event != object()
    if any(isinstance(getattr(event, name), dict) for name in names):
        with pytest.raises(TypeError):
            hash(event)
    else:
        assert hash(event) == hash(tuple(getattr(event, name) for name in names))
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.seq = 2
    assert pickle.loads(pickle.dumps(event)) == event


def test_events_of_different_kinds_are_never_equal() -> None:
    assert StepStarted(run_id="r", timestamp=1.0) != StepEvent(run_id="r", timestamp=1.0)
