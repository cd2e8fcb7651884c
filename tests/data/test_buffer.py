"""The training buffer's policies against their definitions, on a counted toy stream (index i -> sample i)."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from specops.data.buffer import SampleBuffer, StreamError


def _fill(buffer: SampleBuffer, indices) -> None:
    for i in indices:
        assert buffer.put(i, i)


def _draw(buffer: SampleBuffer, k: int) -> list[int]:
    entries, _ = buffer.get(k, timeout=1)
    return [e.index for e in entries]


def test_fifo_hands_out_the_oldest_samples_each_once():
    buffer = SampleBuffer(8, "fifo", watermark=8)
    _fill(buffer, range(8))
    assert _draw(buffer, 3) == [0, 1, 2]
    _fill(buffer, [8, 9, 10])
    assert _draw(buffer, 5) == [3, 4, 5, 6, 7]
    assert _draw(buffer, 3) == [8, 9, 10]
    assert buffer.histogram() == {1: 11}  # every sample used exactly once


def test_firo_draws_uniformly_without_replacement_and_consumes():
    """First in, random out: each batch is a uniform draw of distinct residents, which leave the buffer;
    over many repetitions every resident is equally likely to be in the first batch."""
    hits = torch.zeros(6)
    for rep in range(600):
        buffer = SampleBuffer(6, "firo", watermark=6, seed=rep)
        _fill(buffer, range(6))
        first = _draw(buffer, 2)
        assert len(set(first)) == 2
        rest = _draw(buffer, 4)
        assert sorted(first + rest) == list(range(6)) and len(buffer) == 0
        hits[first] += 1
    expected = 600 * 2 / 6  # binomial, sd = sqrt(600 * 1/3 * 2/3) ~ 11.5
    assert (hits - expected).abs().max() < 5 * 11.6, hits


def test_fifo_and_firo_make_the_producer_wait_for_room():
    buffer = SampleBuffer(2, "firo", watermark=2)
    _fill(buffer, [0, 1])
    done = threading.Event()
    threading.Thread(target=lambda: (buffer.put(2, 2), done.set()), daemon=True).start()
    assert not done.wait(0.3)  # full: the third sample waits
    _draw(buffer, 1)
    assert done.wait(2) and len(buffer) == 2


def test_reservoir_keeps_samples_and_replaces_only_seen_ones():
    buffer = SampleBuffer(4, "reservoir", watermark=4, seed=3)
    _fill(buffer, range(4))
    done = threading.Event()
    threading.Thread(target=lambda: (buffer.put(4, 4), done.set()), daemon=True).start()
    assert not done.wait(0.3)  # full and nothing seen yet: no unseen sample is thrown away
    drawn = _draw(buffer, 2)
    assert done.wait(2)
    residents = buffer.indices()
    assert len(residents) == 4 and 4 in residents
    evicted = set(range(4)) - set(residents)
    assert len(evicted) == 1 and evicted <= set(drawn)  # the replaced one had been drawn
    again = [i for _ in range(50) for i in _draw(buffer, 2)]
    assert set(again) == set(residents)  # kept and drawn again, every resident
    hist = buffer.histogram()
    assert sum(hist.values()) == 5 and sum(k * v for k, v in hist.items()) == 2 + 100


def test_reservoir_replacement_is_uniform_over_seen_residents():
    """With residents 0..3 of which 0 and 2 were drawn, an arrival replaces 0 or 2, each half the time."""
    evicted = {0: 0, 2: 0}
    for rep in range(400):
        buffer = SampleBuffer(4, "reservoir", watermark=1, seed=rep)
        _fill(buffer, range(4))
        for entry in buffer.entries:
            entry.seen = 1 if entry.index in (0, 2) else 0
        buffer.put(9, 9)
        (gone,) = set(range(4)) - set(buffer.indices())
        evicted[gone] += 1
    assert abs(evicted[0] - 200) < 5 * 10, evicted  # sd = 10


def test_watermark_holds_back_the_first_batch_only():
    buffer = SampleBuffer(10, "fifo", watermark=5)
    _fill(buffer, range(4))
    assert not buffer.ready(2)
    with pytest.raises(TimeoutError, match="watermark 5"):
        buffer.get(2, timeout=0.2)
    _fill(buffer, [4])
    assert _draw(buffer, 2) == [0, 1]
    _draw(buffer, 3)
    _fill(buffer, [5, 6])
    assert buffer.ready(2)  # the watermark was reached once: later batches need only k samples


def test_finish_drains_a_consuming_buffer_then_ends():
    buffer = SampleBuffer(10, "fifo", watermark=10)
    _fill(buffer, range(3))
    buffer.finish()
    assert _draw(buffer, 2) == [0, 1]
    assert _draw(buffer, 2) == [2]  # the last, smaller batch
    assert buffer.get(2, timeout=0.2) is None


def test_a_failed_stream_raises_in_the_waiting_trainer():
    buffer = SampleBuffer(4, "reservoir", watermark=2)
    threading.Timer(0.2, buffer.fail, args=(StreamError("all workers died"),)).start()
    start = time.monotonic()
    with pytest.raises(StreamError, match="all workers died"):
        buffer.get(2, timeout=30)
    assert time.monotonic() - start < 5


def test_state_round_trip_continues_the_same_draws():
    buffer = SampleBuffer(6, "reservoir", watermark=6, seed=11)
    _fill(buffer, range(6))
    _draw(buffer, 3)
    state = buffer.state_dict()
    after = [_draw(buffer, 3) for _ in range(4)]
    resumed = SampleBuffer(6, "reservoir", watermark=6, seed=0)
    resumed.load_state_dict(state, {i: i for i in state["indices"]})
    assert [_draw(resumed, 3) for _ in range(4)] == after
    assert resumed.histogram() == buffer.histogram()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"capacity": 0}, "capacity=0"),
        ({"capacity": 4, "policy": "lifo"}, "policy='lifo'"),
        ({"capacity": 4, "watermark": 5}, "watermark=5"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SampleBuffer(**kwargs)
