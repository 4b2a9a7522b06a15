"""The ingest-time garbage collection pause: nested and concurrent callers, and a collector
that was off before stays off."""

from __future__ import annotations

import gc
import threading

import pytest

from narcwatch.index.gcpause import gc_paused


@pytest.fixture(autouse=True)
def _collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


def test_paused_inside_and_resumed_after_even_on_error():
    with pytest.raises(RuntimeError):
        with gc_paused():
            assert not gc.isenabled()
            raise RuntimeError("boom")
    assert gc.isenabled()


def test_nested_pauses_resume_only_when_the_outermost_ends():
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off():
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


def test_overlapping_pauses_of_two_threads():
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with gc_paused():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=other)
    t.start()
    assert inside.wait(5)
    with gc_paused():
        pass
    assert not gc.isenabled()  # the other thread's pause is still running
    release.set()
    t.join(5)
    assert gc.isenabled()


def test_a_store_ingest_resumes_collection(tmp_path):
    from narcwatch.index.sqlite import SqliteStore

    from .conftest import corpus

    store = SqliteStore(tmp_path / "s.sqlite")
    try:
        b = corpus()
        assert store.ingest(b[:2])
        assert gc.isenabled()
        assert list(store.ingest_many(iter([b[2:3], b[3:]]), bulk=True))
        assert gc.isenabled()
    finally:
        store.close()
