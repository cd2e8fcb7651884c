"""DeepONet and MultiONet: branch net on sensor values, trunk net on query points, inner products.

DeepONet (Lu, Jin, Pang, Zhang & Karniadakis, Nat. Mach. Intell. 3 (2021) 218, eq. 2):

    G(a)(x)_k = sum_{h=1}^{p} b_{k,h}(a(s_1), ..., a(s_m)) t_{k,h}(x) + b_{0,k}

with the branch ``b`` an MLP of the input at ``m`` fixed sensors and the trunk ``t`` an MLP of the query
point. MultiONet (Zang & Koutsourelakis, arXiv 2502.06250, ``Networks/MultiONets.py``) gives branch and trunk
the same depth ``L`` and width ``H`` and combines the Hadamard products of *every* one of the last ``l``
layers with learned weights,

    G(a)(x) = W_out ( (1/l) sum_{j=L-l+1}^{L} w_j  b^{(j)}(a) o t^{(j)}(x) ) + b_0,

which for one output and ``W_out = 1^T`` is the average of the layer-wise inner products.

Both take fields ``(B, C, *space)`` on a periodic grid: the branch reads them at a lattice of
``sensors`` points per axis (``x = j / m`` of the domain, linear interpolation, exact where the grid
holds the sensors), and the trunk is evaluated at the output grid's nodes ``x = j / n``, so the output is
the same function on every grid. ``query(x, points)`` evaluates at arbitrary points and
``operator(values, points)`` takes sensor values directly.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from specops.models.base import OperatorModel, register_model
from specops.registry import MODELS

_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "silu": F.silu,
    "gelu": F.gelu,
    "sin": torch.sin,
    "tanh_sin": lambda x: torch.tanh(x) + torch.sin(x),  # MultiONet's mixed trunk activation
    "silu_sin": lambda x: F.silu(x) + torch.sin(x),
}


def _act(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The activation ``name`` (``tanh, silu, gelu, sin, tanh_sin, silu_sin``)."""
    if name not in _ACTIVATIONS:
        raise ValueError(f"activation={name!r} is not one of {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]


def sample_lattice(x: torch.Tensor, sensors: Sequence[int]) -> torch.Tensor:
    """Periodic linear interpolation of ``x`` ``(B, C, *space)`` at ``x_j = j n / m`` per axis -> ``(B, C, *m)``."""
    d = len(sensors)
    for axis, m in enumerate(sensors):
        dim = x.dim() - d + axis
        n = x.shape[dim]
        if n % m == 0:  # the grid holds the sensors: exact sampling
            x = x.index_select(dim, torch.arange(0, n, n // m, device=x.device))
            continue
        pos = torch.arange(m, dtype=torch.float64) * (n / m)
        i0 = pos.floor().long()
        w = (pos - i0).to(x.dtype).to(x.device)
        shape = [1] * x.dim()
        shape[dim] = m
        x = x.index_select(dim, i0 % n) * (1 - w.view(shape)) + x.index_select(dim, (i0 + 1) % n) * w.view(
            shape
        )
    return x


def grid_points(shape: Sequence[int], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Nodes ``x = j / n`` of a periodic unit grid, ``(prod(shape), d)``, the first axis slowest."""
    axes = [torch.arange(n, dtype=dtype, device=device) / n for n in shape]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(shape))


class MLP(nn.Module):
    """``h_{j+1} = act(W_j h_j + c_j)``; ``hidden(x)`` returns every hidden layer (MultiONet's products)."""

    def __init__(
        self, sizes: Sequence[int], act: Callable[[torch.Tensor], torch.Tensor], last_linear: bool
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
        self.act, self.last_linear = act, last_linear

    def hidden(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if not (self.last_linear and i == len(self.layers) - 1):
                x = self.act(x)
            out.append(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.hidden(x)[-1]


class _BranchTrunk(OperatorModel):
    """Shared input handling: fields -> sensor values -> ``operator(values, points)`` on the grid's nodes."""

    def _setup(self, dim: int, in_channels: int, out_channels: int, sensors: int | Sequence[int]) -> None:
        self.dim, self.in_channels, self.out_channels = int(dim), int(in_channels), int(out_channels)
        if self.dim not in (1, 2, 3):
            raise ValueError(f"dim={dim} must be 1, 2 or 3 spatial axes")
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if int(value) < 1:
                raise ValueError(f"{name}={value} must be a positive integer")
        self.sensors = [int(sensors)] * self.dim if isinstance(sensors, int) else [int(s) for s in sensors]
        if len(self.sensors) != self.dim or min(self.sensors) < 1:
            raise ValueError(f"sensors={sensors} must be a positive count per axis ({self.dim} axes)")
        self.n_inputs = self.in_channels
        for m in self.sensors:
            self.n_inputs *= m

    def sensor_values(self, x: torch.Tensor) -> torch.Tensor:
        """The branch input: ``x`` ``(B, C, *space)`` read at the sensor lattice, ``(B, C * prod(sensors))``."""
        x = self.check_input(x, self.in_channels, self.dim)
        return sample_lattice(x, self.sensors).reshape(x.shape[0], -1)

    def query(self, x: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """``G(x)`` at arbitrary ``points`` ``(P, d)`` (unit-domain coordinates) -> ``(B, out_channels, P)``."""
        return self.operator(self.sensor_values(x), points)

    def operator(self, values: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape[-self.dim :]
        values = self.sensor_values(x)
        points = grid_points(shape, values.dtype, values.device)
        return self.operator(values, points).reshape(x.shape[0], self.out_channels, *shape)


@register_model("deeponet")
class DeepONet(_BranchTrunk):
    """DeepONet: ``G(a)(x)_k = sum_h b_{k,h}(a(sensors)) t_{k,h}(x) + b_{0,k}`` (Lu et al. 2021, eq. 2).

    Parameters
    ----------
    dim : int
        Spatial axes of the fields.
    in_channels, out_channels : int
    sensors : int or list of int
        Sensor lattice points per axis (the branch reads ``in_channels * prod(sensors)`` values).
    width : int
        Hidden width of branch and trunk; ``basis`` the number ``p`` of products per output channel.
    branch_layers, trunk_layers : int
        Hidden layers of each net.
    activation, trunk_activation : str
        Branch and trunk activations (``tanh, silu, gelu, sin, tanh_sin, silu_sin``).

    Shapes: ``(B, in_channels, *space) -> (B, out_channels, *space)``.
    """

    def __init__(
        self,
        dim: int = 2,
        in_channels: int = 1,
        out_channels: int = 1,
        *,
        sensors: int | Sequence[int] = 16,
        width: int = 128,
        basis: int = 64,
        branch_layers: int = 3,
        trunk_layers: int = 3,
        activation: str = "silu",
        trunk_activation: str = "tanh",
    ) -> None:
        super().__init__()
        self._setup(dim, in_channels, out_channels, sensors)
        p = int(basis) * self.out_channels
        self.basis = int(basis)
        self.branch = MLP([self.n_inputs] + [int(width)] * int(branch_layers) + [p], _act(activation), True)
        self.trunk = MLP([self.dim] + [int(width)] * int(trunk_layers) + [p], _act(trunk_activation), False)
        self.bias = nn.Parameter(torch.zeros(self.out_channels))

    def operator(self, values: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Sensor values ``(B, C * m)`` and points ``(P, d)`` -> ``(B, out_channels, P)``."""
        b = self.branch(values).reshape(values.shape[0], self.out_channels, self.basis)
        t = self.trunk(points.to(values)).reshape(-1, self.out_channels, self.basis)
        return torch.einsum("bkh,pkh->bkp", b, t) + self.bias[:, None]


@register_model("multionet")
class MultiONet(_BranchTrunk):
    """MultiONet: layer-wise products ``b^{(j)} o t^{(j)}`` of the last ``sum_layers`` layers, weighted mean.

    ``G(a)(x) = W_out( (1/l) sum_j w_j b^{(j)}(a) o t^{(j)}(x) ) + b_0`` (Zang & Koutsourelakis 2025).
    Parameters as :class:`DeepONet`, with ``n_layers`` hidden layers of ``width`` in both nets and
    ``sum_layers`` (``l``, at most ``n_layers``) layers combined.
    """

    def __init__(
        self,
        dim: int = 2,
        in_channels: int = 1,
        out_channels: int = 1,
        *,
        sensors: int | Sequence[int] = 16,
        width: int = 100,
        n_layers: int = 5,
        sum_layers: int = 4,
        activation: str = "silu",
        trunk_activation: str = "tanh_sin",
    ) -> None:
        super().__init__()
        self._setup(dim, in_channels, out_channels, sensors)
        if not 1 <= int(sum_layers) <= int(n_layers):
            raise ValueError(f"sum_layers={sum_layers} must be between 1 and n_layers={n_layers}")
        self.sum_layers = int(sum_layers)
        self.branch = MLP([self.n_inputs] + [int(width)] * int(n_layers), _act(activation), False)
        self.trunk = MLP([self.dim] + [int(width)] * int(n_layers), _act(trunk_activation), False)
        self.layer_weights = nn.Parameter(torch.ones(self.sum_layers))
        self.fc_out = nn.Linear(int(width), self.out_channels)

    def features(self, values: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """``(1/l) sum_j w_j b^{(j)} o t^{(j)}``: ``(B, P, width)``."""
        bs = self.branch.hidden(values)[-self.sum_layers :]
        ts = self.trunk.hidden(points.to(values))[-self.sum_layers :]
        acc = 0.0
        for w, b, t in zip(self.layer_weights, bs, ts, strict=True):
            acc = acc + w * b[:, None, :] * t[None]
        return acc / self.sum_layers

    def operator(self, values: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Sensor values ``(B, C * m)`` and points ``(P, d)`` -> ``(B, out_channels, P)``.

        ``fc_out`` is folded into the branch side, ``sum_{j,h} (w_j / l) W_kh b^{(j)}_h t^{(j)}_h``, one
        ``(B, K, l H) x (l H, P)`` product: the same numbers as ``fc_out(features)`` without the
        ``(B, P, H)`` products (the cost of DGNO's training, which queries thousands of points per input).
        """
        bs = self.branch.hidden(values)[-self.sum_layers :]
        ts = self.trunk.hidden(points.to(values))[-self.sum_layers :]
        w = self.layer_weights / self.sum_layers
        left = torch.cat([w[j] * b[:, None, :] * self.fc_out.weight for j, b in enumerate(bs)], -1)
        return torch.einsum("bkm,pm->bkp", left, torch.cat(ts, -1)) + self.fc_out.bias[:, None]


_PRESETS = {
    "deeponet-1d": (DeepONet, "deeponet", {"dim": 1, "sensors": 64, "width": 128, "basis": 64}),
    "deeponet-2d": (DeepONet, "deeponet", {"dim": 2, "sensors": 16, "width": 128, "basis": 64}),
    "multionet-1d": (MultiONet, "multionet", {"dim": 1, "sensors": 64, "width": 100, "n_layers": 5}),
    "multionet-2d": (MultiONet, "multionet", {"dim": 2, "sensors": 16, "width": 100, "n_layers": 5}),
}
_DOCS = {
    "deeponet": "DeepONet (Lu et al. 2021): branch MLP on sensor values, trunk MLP on points, inner product",
    "multionet": "MultiONet (Zang & Koutsourelakis 2025): products at the last 4 of 5 layers, learned mean",
}
for _name, (_cls, _family, _defaults) in _PRESETS.items():
    _where = f"{_defaults['dim']}D, {_defaults['sensors']} sensors per axis"
    MODELS.register(
        _name, _cls, defaults=_defaults, description=f"{_DOCS[_family]}; {_where}", family=_family
    )
