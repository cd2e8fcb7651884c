"""A small, exact Problem for the data tests: the heat equation on the periodic unit square.

``u_t = nu * Laplace(u)``, ``u(0) = a`` a Gaussian random field; the exact solution is
``u_hat_k(t) = exp(-4 pi^2 nu |k|^2 t) a_hat_k``. Operator mode stores ``a -> u(T)``; trajectory mode
stores ``u`` at ``n_times`` equispaced times ``0, dt, ...``.
"""

from __future__ import annotations

import torch

from specops.data.schema import layout_for
from specops.solvers.random_fields import GaussianRandomField
from specops.spectral.derivatives import squared_wavenumber


class HeatProblem:
    """Exact heat-equation operator on GRF initial data, implementing the Problem protocol."""

    def __init__(
        self,
        resolution: int = 16,
        nu: float = 0.01,
        T: float = 0.5,
        n_times: int = 0,
        ndim: int = 2,
        fail_on_call: int | None = None,
        nan_on_call: int | None = None,
    ) -> None:
        self.name = "heat"
        self.resolution, self.nu, self.T, self.n_times, self.ndim = resolution, nu, T, n_times, ndim
        self.shape = (resolution,) * ndim
        self.grf = GaussianRandomField(self.shape, alpha=2.0, tau=3.0)
        self.calls = 0
        self.fail_on_call, self.nan_on_call = fail_on_call, nan_on_call
        if n_times:
            self.input_fields = self.output_fields = ("u",)
        else:
            self.input_fields, self.output_fields = ("a",), ("u",)

    def times(self) -> torch.Tensor:
        return torch.arange(self.n_times, dtype=torch.float64) * (self.T / max(self.n_times - 1, 1))

    def fields(self) -> dict:
        if self.n_times:
            return {
                "u": {
                    "layout": layout_for("trajectory", self.ndim),
                    "shape": (self.n_times, 1, *self.shape),
                    "description": "temperature",
                }
            }
        return {
            "a": {
                "layout": layout_for("operator", self.ndim),
                "shape": (1, *self.shape),
                "description": "initial temperature",
            },
            "u": {
                "layout": layout_for("operator", self.ndim),
                "shape": (1, *self.shape),
                "description": "temperature at T",
            },
        }

    def coords(self) -> dict:
        grid = {
            "xyz"[d]: torch.arange(self.resolution, dtype=torch.float64) / self.resolution
            for d in range(self.ndim)
        }
        return {**grid, "t": self.times() if self.n_times else None}

    def metadata(self) -> dict:
        return {
            "solver": "exact",
            "stepper": "exact",
            "dt": self.T / max(self.n_times - 1, 1) if self.n_times else self.T,
            "domain": [[0.0, 1.0]] * self.ndim,
            "resolution": self.resolution,
            "boundary": "periodic",
            "nu": self.nu,
            "T": self.T,
        }

    def evolve(self, a: torch.Tensor, t: float) -> torch.Tensor:
        dims = tuple(range(-self.ndim, 0))
        decay = torch.exp(-self.nu * squared_wavenumber(self.shape, 1.0) * t)
        return torch.fft.irfftn(torch.fft.rfftn(a, dim=dims) * decay, s=self.shape, dim=dims)

    def generate(self, seeds, *, device=None, dtype=torch.float32) -> dict:
        self.calls += 1
        if self.fail_on_call is not None and self.calls == self.fail_on_call:
            raise KeyboardInterrupt("simulated interruption")
        a = self.grf.sample(seeds, dtype=torch.float64, device=device).unsqueeze(1)
        if self.n_times:
            u = torch.stack([self.evolve(a, float(t)) for t in self.times()], dim=1)
            out = {"u": u.to(dtype)}
        else:
            out = {"a": a.to(dtype), "u": self.evolve(a, self.T).to(dtype)}
        if self.nan_on_call is not None and self.calls == self.nan_on_call:
            out["u"][-1].view(-1)[0] = float("nan")
        return out
