"""Ray actors as solver workers (``specops[cluster]``): skipped when Ray is not installed."""

from __future__ import annotations

import functools
import sys

import pytest
import torch

from specops.data.buffer import SampleBuffer
from specops.data.ledger import SeedLedger
from specops.data.streaming import SampleStream
from tests.data.stream_problems import counting


def test_missing_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    from specops.data.ray_pool import RayPool

    with pytest.raises(ImportError, match=r"specops\[cluster\]"):
        RayPool(counting, 2)


def test_two_ray_actors_stream_every_seed_once_and_survive_a_killed_actor():
    ray = pytest.importorskip("ray")
    from specops.data.ray_pool import RayPool

    pool = RayPool(functools.partial(counting, delay=0.1), 2, address="local", dtype=torch.float64)
    stream = SampleStream(pool, SeedLedger(100, 2, 24), SampleBuffer(64, "fifo", watermark=1))
    got = {}
    # the feeder thread warns when it finds the actor dead: closed inside the block, so the warning is in
    with pytest.warns(UserWarning, match="worker 1 died"):
        try:
            stream.start()
            for entry in stream.buffer.get(2, timeout=60)[0]:
                got[entry.index] = entry.sample
            ray.kill(pool.actors[1], no_restart=True)  # it holds `prefetch` unfinished tasks (0.1 s each)
            while (batch := stream.buffer.get(4, timeout=60)) is not None:
                for entry in batch[0]:
                    assert entry.index not in got
                    got[entry.index] = entry.sample
        finally:
            stream.close()
    assert not ray.is_initialized()  # the pool shut down the instance it started
    assert sorted(got) == list(range(24))
    assert all(float(s["x"][0, 0]) == 100 + i for i, s in got.items())
