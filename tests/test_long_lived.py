"""``long_lived``: the collector paused while a command builds its code, what was built
then frozen; a collector the caller disabled stays so."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from millrace.runtime.long_lived import long_lived


@pytest.fixture(autouse=True)
def restored_collector() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()
    else:
        gc.disable()


def test_the_collector_is_paused_inside_and_what_was_built_is_frozen_after():
    gc.enable()
    gc.unfreeze()
    with long_lived():
        assert not gc.isenabled()
        built = [[] for _ in range(1000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(built)


def test_a_failed_build_freezes_nothing():
    gc.enable()
    gc.unfreeze()
    with pytest.raises(ValueError), long_lived():
        raise ValueError("the code did not load")
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_a_collector_the_caller_disabled_stays_disabled():
    gc.disable()
    with long_lived():
        pass
    assert not gc.isenabled()
