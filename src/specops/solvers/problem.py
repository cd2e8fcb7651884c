"""The dataset contract: a ``Problem`` turns seeds into samples and describes them for the data layer.

Every problem has

- ``name``, ``input_fields``, ``output_fields``;
- ``generate(seeds, *, device=None, dtype=torch.float32) -> dict[str, Tensor]``: one sample per seed,
  sample ``i`` a function of ``seeds[i]`` alone (batches, shards and single-sample regeneration agree bit
  for bit on CPU). Operator pairs are ``(sample, channel, *space)``, trajectories
  ``(sample, time, channel, *space)``;
- ``fields()``: per field, its ``layout`` (the data schema's, see :func:`field_layout`), per-sample
  ``shape`` and ``description``;
- ``coords()``: ``x`` (``y``, ``z``) of the stored grid, ``t`` (save times) for trajectories;
- ``metadata()``: everything needed to regenerate, JSON-serializable;
- ``solver_seconds_per_sample`` / ``time_solver()``: the solver's wall time per sample at the stored output.

The kinds shipped are compositions of objects: ``EvolutionProblem`` (``evolution.py``: a periodic
equation, an initial-condition sampler, save times, a stepper and a time step), ``SteadyProblem``
(``steady.py``: a coefficient sampler and a linear solver) and ``LinearProblem`` (``linear_problem.py``:
parameter samplers, sparse systems and a solver of sequences of systems; it also has
``generate_with_info``, which returns per-sample solver statistics). Registered presets are in ``problems/``.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch

Kind = Literal["operator", "trajectory"]
_SPATIAL_AXES = ("x", "y", "z")


def field_layout(kind: Kind, ndim: int) -> str:
    """Axis names of a stored field: ``"sample channel x y"`` (operator) or ``"sample time channel x y"``.

    The same strings as ``specops.data.schema.layout_for`` (solvers do not import the data layer; a test
    checks that the two agree for every kind and dimension).
    """
    if kind not in ("operator", "trajectory"):
        raise ValueError(f"kind={kind!r} must be 'operator' or 'trajectory'")
    if not 1 <= ndim <= len(_SPATIAL_AXES):
        raise ValueError(f"ndim={ndim} must be 1, 2 or 3 spatial axes")
    head = ("sample", "channel") if kind == "operator" else ("sample", "time", "channel")
    return " ".join(head + _SPATIAL_AXES[:ndim])


def check_positive(name: str, value: Any, integer: bool = False) -> Any:
    """``value`` as a positive finite float (or a positive int with ``integer``); ``ValueError`` naming it."""
    if integer:
        if int(value) != value or value < 1:
            raise ValueError(f"{name}={value} must be a positive integer")
        return int(value)
    if not (float(value) > 0 and math.isfinite(float(value))):
        raise ValueError(f"{name}={value} must be a positive finite number")
    return float(value)


def check_dtype(dtype: torch.dtype) -> torch.dtype:
    """``dtype`` if it is float32 or float64, the two precisions the solvers run in."""
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype={dtype} is not supported; use torch.float32 or torch.float64")
    return dtype


class Problem(ABC):
    """A dataset kind: how to make samples from seeds, and how to describe them."""

    name: str
    input_fields: tuple[str, ...]
    output_fields: tuple[str, ...]

    @abstractmethod
    def generate(
        self,
        seeds: Sequence[int],
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> dict[str, torch.Tensor]:
        """One sample per seed, as a dict of field name to tensor (layouts in ``fields()``)."""

    @abstractmethod
    def fields(self) -> dict[str, dict[str, Any]]:
        """Per generated field: ``layout`` (:func:`field_layout`), per-sample ``shape``, ``description``."""

    @abstractmethod
    def coords(self) -> dict[str, np.ndarray]:
        """Coordinates of the stored grid (``x``, ``y``) and, for trajectories, the save times ``t``."""

    @abstractmethod
    def metadata(self) -> dict[str, Any]:
        """Everything needed to regenerate the data (JSON-serializable)."""

    def time_solver(
        self, n_samples: int = 1, *, seed: int = 0, device=None, dtype: torch.dtype = torch.float32
    ) -> float:
        """Wall-clock seconds per sample to generate ``n_samples`` samples (solver and sampling)."""
        seeds = list(range(seed, seed + check_positive("n_samples", n_samples, integer=True)))
        synchronize(device)
        start = time.perf_counter()
        self.generate(seeds, device=device, dtype=dtype)
        synchronize(device)
        return (time.perf_counter() - start) / len(seeds)

    @property
    def solver_seconds_per_sample(self) -> float:
        """Seconds to generate one sample on the CPU at the stored resolution (measured once, cached)."""
        if getattr(self, "_solver_seconds", None) is None:
            self._solver_seconds = self.time_solver(1)
        return self._solver_seconds

    def estimate_seconds_per_sample(self, batch_size: int = 8, *, device=None) -> float:
        """Solver wall time per sample for a batch of ``batch_size`` samples (float32), at the stored output.

        Problems whose full solve is long override this with an extrapolation from a short one.
        """
        return self.time_solver(batch_size, device=device)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def synchronize(device: torch.device | str | None) -> None:
    """Wait for the queued kernels of a CUDA ``device`` (so that wall-clock timings are true); else nothing."""
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
