"""Online streams: the same samples whatever the worker count, no seed lost or repeated when a worker is
killed or the run resumes, solver failures skipped or reported with their seed."""

from __future__ import annotations

import functools
import os
import signal
import time

import pytest
import torch

from specops.data.buffer import SampleBuffer, StreamError
from specops.data.ledger import SeedLedger
from specops.data.streaming import OnlineBatches, SampleStream
from specops.data.workers import ProblemSpec, ProcessPool
from specops.solvers.problems import make_problem
from tests.data.stream_problems import counting

SEED = 100
BURGERS = {"resolution": 16, "upsample": 1, "t_final": 0.02, "save_interval": None, "dt": 1e-3}


def _stream(factory, workers, *, n, chunk=2, policy="fifo", capacity=64, watermark=1, **options):
    pool = ProcessPool(factory, workers, dtype=torch.float64)
    buffer = SampleBuffer(capacity, policy, watermark=watermark, seed=1)
    return SampleStream(pool, SeedLedger(SEED, chunk, n), buffer, **options)


def _drain(stream: SampleStream, k: int = 4) -> dict[int, dict[str, torch.Tensor]]:
    out = {}
    while (got := stream.buffer.get(k, timeout=30)) is not None:
        for entry in got[0]:
            assert entry.index not in out, f"sample {entry.index} delivered twice"
            out[entry.index] = entry.sample
    return out


def test_stream_is_the_same_multiset_for_one_and_two_workers_and_matches_generate():
    """Sample i is the solver's output for seed S + i, bit for bit, however many workers made it (equal to
    ``specops generate --batch-size 3``: the chunks are aligned as generate's batches are)."""
    spec = ProblemSpec("burgers", BURGERS)
    runs = []
    for workers in (1, 2):
        with _stream(spec, workers, n=7, chunk=3) as stream:
            stream.start()
            runs.append(_drain(stream))
    assert sorted(runs[0]) == sorted(runs[1]) == list(range(7))
    problem = make_problem("burgers", **BURGERS)
    chunks = [
        problem.generate([SEED + i for i in range(lo, min(lo + 3, 7))], dtype=torch.float64)
        for lo in (0, 3, 6)
    ]
    direct = {k: torch.cat([c[k] for c in chunks]) for k in ("u0", "u")}
    for i in range(7):
        for run in runs:
            assert torch.equal(run[i]["x"], direct["u0"][i]), i
            assert torch.equal(run[i]["y"], direct["u"][i]), i


def test_killing_a_worker_loses_no_seed_and_duplicates_none():
    stream = _stream(functools.partial(counting, delay=0.02), 2, n=40, chunk=2)
    with pytest.warns(UserWarning, match="worker 0 died"), stream:  # closed (thread joined) inside
        stream.start()
        first = stream.buffer.get(2, timeout=30)[0]
        os.kill(stream.pool.pids[0], signal.SIGKILL)  # it holds `prefetch` unfinished tasks
        got = _drain(stream)
        got.update({e.index: e.sample for e in first})
    assert stream.restarts[0] == 1
    assert sorted(got) == list(range(40))
    assert all(float(s["x"][0, 0]) == SEED + i for i, s in got.items())


def test_all_workers_dead_is_a_clear_error_not_a_hang():
    crash = functools.partial(counting, crash={SEED + 5})
    with _stream(crash, 2, n=40, chunk=1, max_restarts=1) as stream:
        stream.start()
        start = time.monotonic()
        with pytest.raises(StreamError, match="all 2 solver workers died"), pytest.warns(UserWarning):
            _drain(stream)
        assert time.monotonic() - start < 20


def test_a_blow_up_is_skipped_with_its_seed_named_or_stops_the_stream():
    blow = functools.partial(counting, blow_up={SEED + 3})
    with _stream(blow, 1, n=8, chunk=4) as stream, pytest.warns(UserWarning, match="seed 103"):
        stream.start()
        got = _drain(stream)
    assert sorted(got) == [0, 1, 2, 4, 5, 6, 7] and stream.ledger.skipped == [(3, 103)]
    with _stream(blow, 1, n=8, chunk=4, on_error="raise") as stream:
        stream.start()
        with pytest.raises(StreamError, match=r"sample 3 \(seed 103\)"):
            _drain(stream)


class RecordingBuffer(SampleBuffer):
    """A buffer that records every index put into it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.puts = []

    def load_state_dict(self, state, samples):
        with self.lock:  # reentrant: the trainer wakes only once both are done
            super().load_state_dict(state, samples)
            self.rebuilt = [(e.index, e.seen, float(e.sample["x"][0, 0])) for e in self.entries]

    def put(self, index, sample, *, on_insert=None):
        self.puts.append(index)
        return super().put(index, sample, on_insert=on_insert)


def test_resume_rebuilds_the_buffer_and_continues_the_stream():
    """Delivered before the checkpoint + delivered after it = the whole stream, each sample once; the
    rebuilt buffer holds the same samples with the same times seen."""
    factory = functools.partial(counting, delay=0.01)
    with _stream(factory, 2, n=30, chunk=3, policy="reservoir", capacity=6, watermark=6) as stream:
        batches = OnlineBatches(stream, 2, 3)
        assert len([b for b in batches]) == 3
        state = batches.state_dict()
    ledger = state["ledger"]
    before = set(range(ledger["frontier"])) | set(ledger["delivered"])
    saved = dict(zip(state["buffer"]["indices"], state["buffer"]["seen"]))
    assert len(saved) == 6 and set(saved) <= before and sum(saved.values()) == 6
    pool = ProcessPool(factory, 2, dtype=torch.float64)
    buffer = RecordingBuffer(6, "reservoir", watermark=6, seed=1)
    with SampleStream(pool, SeedLedger(SEED, 3, 30), buffer) as stream:
        stream.load_state_dict(state)
        stream.start()
        buffer.get(1, timeout=30)  # only once rebuilt
        assert [(i, seen) for i, seen, _ in buffer.rebuilt] == list(saved.items())
        assert all(value == SEED + i for i, _, value in buffer.rebuilt)  # regenerated from their seeds
        deadline = time.monotonic() + 30
        while not buffer.finished and time.monotonic() < deadline:
            buffer.get(2, timeout=30)
    assert len(buffer.puts) == len(set(buffer.puts))
    assert not before & set(buffer.puts) and before | set(buffer.puts) == set(range(30))


def test_ledger_resume_reissues_exactly_the_undelivered_indices():
    ledger = SeedLedger(0, chunk=4, max_samples=20)
    tasks = [ledger.next_task(0) for _ in range(3)]  # 0-3, 4-7, 8-11
    for i in [0, 1, 2, 3, 4, 5, 8, 9, 10, 11]:
        ledger.deliver(i)
    resumed = SeedLedger(0, chunk=4, max_samples=20)
    resumed.load_state_dict(ledger.state_dict())
    issued = []
    while (task := resumed.next_task(0)) is not None:
        issued += task[1]
    assert tasks[1][1] == [4, 5, 6, 7]
    assert issued == [6, 7, 12, 13, 14, 15, 16, 17, 18, 19]
    ledger.lost(0)  # a dead worker's undelivered indices come first, once
    assert ledger.next_task(1)[1] == [6, 7]
