"""Numerical PDE solvers in PyTorch (batched, seeded, CPU or GPU). Solvers import no neural-network code."""

from specops.solvers.random_fields import GaussianRandomField

__all__ = ["GaussianRandomField"]
