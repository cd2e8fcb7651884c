"""The order in which a sequence of linear systems is solved: natural, or a greedy nearest-neighbour tour.

SKR (Wang, Hao, Wang, Geng, Wang, Li, Wu, "Accelerating data generation for neural operators via Krylov
subspace recycling", ICLR 2024, §4.1) solves similar systems one after the other so that the subspace
recycled from one solve suits the next. The systems are ordered by a greedy nearest-neighbour tour on a
distance between their parameters:

    o_0 = 0,   o_{t+1} = argmin_{j not in {o_0..o_t}} ||p_{o_t} - p_j||_2   (ties: the smallest index),

``O(N^2 d)`` for ``N`` systems of ``d`` features, negligible next to the solves. The features are the
parameter fields, optionally reduced to their lowest Fourier modes (:func:`low_mode_features`): smooth
differences dominate how far apart two matrices are, and a few modes make the distances cheap.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def greedy_tour(features: torch.Tensor) -> list[int]:
    """The greedy nearest-neighbour tour through the rows of ``features`` ``(N, d)``, starting at row 0.

    Returns a permutation of ``range(N)``, a function of ``features`` alone (reproducible: ties go to the
    smallest index).
    """
    if features.dim() != 2 or features.shape[0] == 0:
        raise ValueError(f"features has shape {tuple(features.shape)}; expected (N >= 1, d)")
    f = features.to(torch.float64)
    if f.is_complex():
        f = torch.view_as_real(f).flatten(1)
    dist = torch.cdist(f, f)
    n = f.shape[0]
    visited = torch.zeros(n, dtype=torch.bool)
    order = [0]
    visited[0] = True
    for _ in range(n - 1):
        row = dist[order[-1]].masked_fill(visited, float("inf"))
        nxt = int(torch.argmin(row))  # first minimum: the smallest index among ties
        order.append(nxt)
        visited[nxt] = True
    return order


def low_mode_features(fields: torch.Tensor, modes: int) -> torch.Tensor:
    """Features of ``fields`` ``(N, *space)``: the real DFT coefficients with ``|k_j| < modes`` (``0``: all values).

    The modes keep the ``L2`` geometry of the smooth part (Parseval), so distances between features are
    distances between low-pass filtered fields.
    """
    if int(modes) != modes or modes < 0:
        raise ValueError(f"solver.sort_modes={modes} must be a non-negative integer (0: the full fields)")
    x = fields.to(torch.float64).reshape(fields.shape[0], *fields.shape[1:])
    if modes == 0:
        return x.flatten(1)
    ndim = x.dim() - 1
    coeff = torch.fft.rfftn(x, dim=tuple(range(1, ndim + 1)), norm="ortho")
    index = [slice(None)]
    for axis in range(1, ndim + 1):
        size = coeff.shape[axis]
        if axis == ndim:  # the halved axis: 0 .. modes-1
            index.append(slice(0, min(modes, size)))
        else:
            keep = torch.cat(
                [torch.arange(min(modes, size)), torch.arange(max(size - modes + 1, modes), size)]
            )
            coeff = coeff.index_select(axis, keep)
            index.append(slice(None))
    return torch.view_as_real(coeff[tuple(index)]).flatten(1)


class NaturalOrder:
    """Solve the systems in the order of their samples."""

    name = "none"

    def order(self, fields: Sequence[torch.Tensor]) -> list[int]:
        """``0 .. N-1`` for parameter fields ``(N, *space)``."""
        return list(range(fields[0].shape[0]))


class GreedyOrder:
    """Solve the systems along :func:`greedy_tour` of :func:`low_mode_features` of their parameters."""

    name = "greedy"

    def __init__(self, modes: int = 8) -> None:
        low_mode_features(torch.zeros(1, 2), modes)  # checks modes
        self.modes = int(modes)

    def order(self, fields: Sequence[torch.Tensor]) -> list[int]:
        """The tour through the samples of the parameter fields ``(N, *space)`` (their features joined)."""
        return greedy_tour(torch.cat([low_mode_features(f, self.modes) for f in fields], dim=1))
