"""Tiny problems for the streaming tests: samples that name their seed, and ones that fail on purpose."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import torch

from specops.data.schema import layout_for


class CountingProblem:
    """Sample of seed ``s``: ``x = s`` and ``y = 2 s`` on every point of an ``n``-point grid (float64 holds
    seeds exactly), so a streamed sample says which seed made it.

    ``blow_up``: seeds whose solve raises ``FloatingPointError`` (as a solver blow-up does);
    ``crash``: seeds that kill the worker process; ``delay``: seconds per call.
    """

    name = "counting"
    input_fields, output_fields = ("a",), ("u",)

    def __init__(self, n: int = 4, blow_up=(), crash=(), delay: float = 0.0) -> None:
        self.n, self.blow_up, self.crash, self.delay = n, set(blow_up), set(crash), delay

    def generate(self, seeds, *, device=None, dtype=torch.float32):
        if self.delay:
            time.sleep(self.delay)
        if self.crash & set(seeds):
            os._exit(3)
        bad = self.blow_up & set(seeds)
        if bad:
            raise FloatingPointError(f"blow-up in seed(s) {sorted(bad)}")
        s = torch.tensor([float(v) for v in seeds], dtype=torch.float64)
        a = s[:, None, None].expand(len(seeds), 1, self.n).to(dtype).clone()
        return {"a": a, "u": 2 * a}

    def fields(self):
        spec = {"layout": layout_for("operator", 1), "shape": (1, self.n), "description": ""}
        return {"a": dict(spec), "u": dict(spec)}

    def coords(self):
        return {"x": torch.arange(self.n) / self.n, "t": None}

    def metadata(self):
        return {"resolution": self.n}


def counting(**kwargs):
    """Picklable factory for the workers."""
    return CountingProblem(**kwargs)


@dataclass(frozen=True)
class CountingSpec:
    """A picklable stand-in for ``ProblemSpec`` that makes a :class:`CountingProblem` (for a whole online
    run: ``pipeline.online`` asks only for ``name`` and a call)."""

    name: str = "counting"
    n: int = 8

    def __call__(self) -> CountingProblem:
        return CountingProblem(self.n)
