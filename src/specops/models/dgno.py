"""DGNO: a deep generative neural operator for Darcy flow, trainable without labelled solutions.

Zang & Koutsourelakis, "DGenNO: a novel physics-aware neural operator for solving forward and inverse PDE
problems based on deep, generative probabilistic modeling", arXiv 2502.06250 (code yaohua32/DGenNO). A
latent ``beta = tanh(E(a))`` (``E`` an MLP of the coefficient at an ``m x m`` lattice of nodes) is decoded by
three MultiONets on arbitrary points ``x`` of ``(0, 1)^2``:

    u(x; beta) = u_0 sin(pi x_1) sin(pi x_2) U(beta, x)    (zero Dirichlet values built in)
    s(x; beta) = s_0 S(beta, x) in R^2                      (the flux a grad u, a mixed formulation)
    a(x; beta) = a_lo + (a_hi - a_lo) sigmoid(A(beta, x))   (the coefficient: a generative model of inputs)

Training (``specops.training.dgno``) uses only coefficient fields: weak-form residuals of
``-div(a grad u) = f`` (``specops.physics.weak``) plus the reconstruction of ``a``. The inverse problem
(``specops.assimilation.inverse``) samples ``beta`` from its posterior given sparse noisy values of ``u``.
Grids are nodes including the boundary, ``x_j = j / (n - 1)`` (the layout of specops' Darcy files).
``u_0, s_0`` are fixed scales (default 1) so the networks work on O(1) numbers: for a source ``f`` the 1D
problem ``-(a u')' = f`` on (0, 1) gives ``u_0 = f / (8 a)``, ``s_0 = f / 2`` (:func:`darcy_scales`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from specops.models.base import OperatorModel, register_model
from specops.models.deeponet import MLP, MultiONet, _act


def node_points(n: int, dtype: torch.dtype, device: torch.device | None = None) -> torch.Tensor:
    """Nodes ``(j / (n - 1), k / (n - 1))`` of ``[0, 1]^2``, ``(n * n, 2)``, the first axis slowest."""
    axis = torch.arange(n, dtype=dtype, device=device) / (n - 1)
    return torch.stack(torch.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)


def interpolate_nodes(field: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Bilinear values of node fields ``(B, 1, n, n)`` on ``[0, 1]^2`` at ``points`` ``(P, 2)`` -> ``(B, P)``."""
    grid = (2 * points[:, [1, 0]] - 1).to(field)  # grid_sample's (x, y) is (last axis, first axis)
    grid = grid[None, :, None, :].expand(field.shape[0], -1, -1, -1)
    return F.grid_sample(field, grid, mode="bilinear", align_corners=True)[:, 0, :, 0]


def darcy_scales(forcing: float, a_range: Sequence[float]) -> tuple[float, float]:
    """``(u_0, s_0) = (|f| / (8 sqrt(a_lo a_hi)), |f| / 2)``: the maxima of ``u`` and the flux of ``-(a u')' = f``.

    The 1D problem on (0, 1) with zero end values and constant ``a`` has ``u = f x (1 - x) / (2 a)`` and
    ``a u' = f (1/2 - x)``; ``a`` is the geometric mean of the range. Used as DGNO's output scales.
    """
    lo, hi = (float(v) for v in a_range)
    if not (hi >= lo > 0 and float(forcing) != 0):
        raise ValueError(
            f"darcy_scales needs 0 < a_lo <= a_hi (got {list(a_range)}) and f != 0 (got {forcing})"
        )
    f = abs(float(forcing))
    return f / (8 * (lo * hi) ** 0.5), f / 2


def nearest_nodes(field: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Values of node fields ``(B, 1, n, n)`` on ``[0, 1]^2`` at the node nearest each point ``(P, 2)`` -> ``(B, P)``.

    The piecewise-constant reading of a coefficient given at nodes (each node owns the cell
    ``|x - x_j| <= h / 2``; DGenNO's ``Get_High_Resolution_a``): across a jump of ``a`` the weak residual then
    sees the two values, where bilinear interpolation would blend them over a cell into a different
    coefficient (at 29^2 its solution is 2.9 % from the file's, the nearest-node one 0.9 %).
    """
    n = field.shape[-1]
    idx = torch.floor(points.to(torch.float64) * (n - 1) + 0.5).long().clamp(0, n - 1)
    flat = field.reshape(field.shape[0], -1)
    return flat[:, idx[:, 0] * n + idx[:, 1]]


@register_model("dgno")
class DGNO(OperatorModel):
    """Latent generative operator ``a -> beta -> (u, s, a)`` with MultiONet decoders (2D Darcy).

    Parameters
    ----------
    lattice : int
        Nodes per axis at which the encoder reads ``a`` (DGenNO: 29, i.e. 841 inputs).
    latent : int
        Size of ``beta`` (DGenNO: 128).
    encoder_hidden : list of int
        Hidden widths of the encoder (DGenNO: 512, 256).
    width, n_layers, sum_layers : int
        The MultiONet decoders' width, depth and the layers whose products are averaged.
    a_range : (float, float)
        ``(a_lo, a_hi)``: the coefficient's range (a piecewise-constant ``a`` takes these two values).
    trunk_activation : str
        Activation of the decoders' trunks.
    u_scale, flux_scale : float
        ``u_0`` and ``s_0`` (see :func:`darcy_scales`); the outputs of ``U`` and ``S`` are multiplied by them.

    Shapes: ``forward(a)``: ``(B, 1, n, n) -> (B, 1, n, n)`` (u at the input's nodes).
    """

    def __init__(
        self,
        lattice: int = 29,
        latent: int = 128,
        *,
        encoder_hidden: Sequence[int] = (512, 256),
        width: int = 100,
        n_layers: int = 5,
        sum_layers: int = 4,
        a_range: Sequence[float] = (3.0, 12.0),
        trunk_activation: str = "tanh_sin",
        u_scale: float = 1.0,
        flux_scale: float = 1.0,
    ) -> None:
        super().__init__()
        lo, hi = (float(v) for v in a_range)
        if not hi > lo:
            raise ValueError(f"a_range={list(a_range)} must be (low, high) with high > low")
        for name, value in (("u_scale", u_scale), ("flux_scale", flux_scale)):
            if not float(value) > 0:
                raise ValueError(f"{name}={value} must be a positive scale (see darcy_scales)")
        self.u_scale, self.flux_scale = float(u_scale), float(flux_scale)
        if int(lattice) < 2 or int(latent) < 1:
            raise ValueError(f"lattice={lattice} (>= 2) and latent={latent} (>= 1) must be positive sizes")
        self.dim, self.in_channels, self.out_channels = 2, 1, 1
        self.lattice, self.latent, self.a_lo, self.a_hi = int(lattice), int(latent), lo, hi
        sizes = [self.lattice**2, *(int(h) for h in encoder_hidden), self.latent]
        self.encoder = MLP(sizes, _act("silu"), last_linear=True)

        def decoder(out: int) -> MultiONet:
            # a MultiONet whose branch reads the latent vector (one "sensor" of `latent` channels)
            return MultiONet(
                2, self.latent, out, sensors=1, width=width, n_layers=n_layers, sum_layers=sum_layers,
                trunk_activation=trunk_activation,
            )  # fmt: skip

        self.u_net, self.flux_net, self.a_net = decoder(1), decoder(2), decoder(1)

    def latent_logits(self, a: torch.Tensor) -> torch.Tensor:
        """``z = E((a - a_lo) / (a_hi - a_lo))`` from ``a`` ``(B, 1, n, n)`` -> ``(B, latent)``; ``beta = tanh z``."""
        a = self.check_input(a, 1, 2)
        m = self.lattice
        if tuple(a.shape[-2:]) != (m, m):
            a = F.interpolate(a, size=(m, m), mode="bilinear", align_corners=True)
        return self.encoder(((a - self.a_lo) / (self.a_hi - self.a_lo)).reshape(a.shape[0], -1))

    def encode(self, a: torch.Tensor) -> torch.Tensor:
        """``beta = tanh(E((a - a_lo) / (a_hi - a_lo)))`` from ``a`` ``(B, 1, n, n)`` -> ``(B, latent)``."""
        return torch.tanh(self.latent_logits(a))

    def u_at(self, beta: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """``u(x; beta)`` ``(B, P)`` at ``points`` ``(P, 2)``, zero on the boundary by the mollifier."""
        mollifier = torch.sin(torch.pi * points[:, 0]) * torch.sin(torch.pi * points[:, 1])
        return (self.u_scale * mollifier.to(beta)) * self.u_net.operator(beta, points)[:, 0]

    def flux_at(self, beta: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """``s(x; beta)`` ``(B, P, 2)``."""
        return self.flux_scale * self.flux_net.operator(beta, points).transpose(1, 2)

    def a_logits_at(self, beta: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Logits of ``(a - a_lo) / (a_hi - a_lo)`` ``(B, P)``."""
        return self.a_net.operator(beta, points)[:, 0]

    def coefficient_at(self, beta: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """``a(x; beta) = a_lo + (a_hi - a_lo) sigmoid(logits)`` ``(B, P)``."""
        return self.a_lo + (self.a_hi - self.a_lo) * torch.sigmoid(self.a_logits_at(beta, points))

    def grad_u_at(self, beta: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """``grad u(x; beta)`` ``(B, P, 2)`` by forward-mode differentiation in each coordinate (no Hessians)."""
        parts = []
        for axis in range(2):
            tangent = torch.zeros_like(points)
            tangent[:, axis] = 1
            parts.append(torch.func.jvp(lambda p: self.u_at(beta, p), (points,), (tangent,))[1])
        return torch.stack(parts, -1)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        n1, n2 = a.shape[-2:]
        if n1 != n2:
            raise ValueError(f"DGNO takes square node grids; got {n1} x {n2}")
        beta = self.encode(a)
        return self.u_at(beta, node_points(n1, beta.dtype, beta.device)).reshape(a.shape[0], 1, n1, n2)
