"""Multigrid domain decomposition (MG-TFNO's patching) around any operator model, in 1, 2 or 3 dimensions.

Kossaifi et al., "Multi-Grid Tensorized Fourier Neural Operator for High-Resolution PDEs", TMLR 2024,
sec. 3.3. The input ``(B, C, n_1, ..., n_d)`` is cut into ``p_1 x ... x p_d`` patches; the model sees each
patch, not the field, with ``levels`` coarser views of its surroundings as extra channels.

Geometry, per axis (grid ``n``, ``p`` patches, core ``s = n / p``, padding ``q = round(padding n)``,
patch ``P = s + 2 q`` points). The level-``l`` view of patch ``j`` is the ``P`` points

    V_l[j, t] = u[c_j - 2^l floor(P / 2) + 2^l t],   t = 0 .. P - 1,   c_j = j s + floor(s / 2),

strided by ``2^l`` and centred on the patch centre ``c_j``: level 0 is the patch with ``q`` points of
overlap each side, level ``l`` a region ``2^l`` times larger downsampled to the patch size. Periodic data
wrap (indices modulo ``n``); non-periodic data read zeros outside the grid. The ``levels + 1`` views are
stacked on the channel axis (level-major) and all patches go through the model as one batch (or one patch
position at a time, ``sequential=True``); the outputs lose their ``q`` overlap points and are stitched back.

With ``sequential=True`` each patch position runs under activation checkpointing while gradients are on:
the forward keeps only its input, and the backward recomputes one patch position at a time, so a training
step holds the activations of one patch per sample instead of the whole field (at the cost of a second
forward).

Patch-level training: ``forward(x, positions=j)`` with one patch position ``j_b`` per sample (C order over
the axes, ``0 <= j_b < prod(p)``) runs the model on those patches only and returns their cores
``(B, C_out, *s)`` (overlap cropped), unstitched; ``patch_cores(y, patches, j)`` cuts the same cores out of
a whole field. The stitched output restricted to patch ``j`` is exactly the patch output at ``j``, so a
loss summed over every (sample, patch) item is the whole-field loss wherever that loss is a sum over
points (``specops.training.patch_task``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from specops.models.base import OperatorModel, register_model
from specops.registry import MODELS

ModelSpec = nn.Module | Mapping[str, Any]


def _divisors(n: int) -> list[int]:
    return [k for k in range(1, n + 1) if n % k == 0]


def _axis_indices(n: int, p: int, size: int, stride: int) -> torch.Tensor:
    """``(p, size)`` grid indices ``c_j - stride floor(size / 2) + stride t`` (unwrapped) of one axis."""
    s = n // p
    centre = torch.arange(p) * s + s // 2
    return centre[:, None] + stride * (torch.arange(size)[None, :] - size // 2)


def _unravel(positions: torch.Tensor, patches: Sequence[int]) -> list[torch.Tensor]:
    """Per-axis patch indices ``j_a`` of flat positions ``j`` (C order: the last axis varies fastest)."""
    out, rest = [], positions
    for p in reversed(patches):
        out.append(rest % p)
        rest = torch.div(rest, p, rounding_mode="floor")
    return out[::-1]


def _gather(x: torch.Tensor, rows: Sequence[torch.Tensor]) -> torch.Tensor:
    """``out[b, ..., t_1, ..., t_d] = x[b, ..., rows_1[b, t_1], ..., rows_d[b, t_d]]`` on the last ``d`` axes
    of ``x (B, *lead, n_1, ..., n_d)``: a different block of grid points for every sample."""
    d, batch = len(rows), x.shape[0]
    lead = x.shape[1 : x.dim() - d]
    flat = x.reshape(batch, -1, *x.shape[x.dim() - d :]).movedim(1, -1)  # (B, *space, lead)
    shape = [batch] + [1] * d
    index = [torch.arange(batch, device=x.device).reshape(shape)]
    for a, r in enumerate(rows):
        index.append(r.reshape([batch] + [r.shape[1] if i == a else 1 for i in range(d)]))
    out = flat[tuple(index)]  # (B, size_1, ..., size_d, lead)
    return out.movedim(-1, 1).reshape(batch, *lead, *out.shape[1 : 1 + d])


def check_positions(positions: torch.Tensor, batch: int, n_patches: int) -> None:
    """Refuse patch positions that are not one whole number in ``[0, n_patches)`` per sample."""
    if positions.shape != (batch,) or positions.dtype.is_floating_point or positions.is_complex():
        raise ValueError(
            f"positions must be one integer patch index per sample, shape ({batch},), got "
            f"{positions.dtype} of shape {tuple(positions.shape)}"
        )
    if (
        positions.device.type == "cpu"
        and batch
        and not 0 <= int(positions.min()) <= int(positions.max()) < n_patches
    ):
        raise ValueError(
            f"positions must lie in [0, {n_patches}) (patches in C order over the axes), got "
            f"{positions.tolist()}"
        )


def patch_cores(y: torch.Tensor, patches: Sequence[int], positions: torch.Tensor) -> torch.Tensor:
    """The core of patch ``positions[b]`` of each sample: ``y (B, *lead, n_1, ..., n_d)`` ->
    ``(B, *lead, n_1 / p_1, ..., n_d / p_d)``, block ``j_a s_a .. (j_a + 1) s_a - 1`` on axis ``a``.

    Parameters
    ----------
    y : tensor
        Whole fields; the last ``len(patches)`` axes are the grid, each divisible by its patch count.
    patches : sequence of int
        Patches per axis ``p_a``.
    positions : (B,) integer tensor
        Flat patch indices in C order over the axes (as ``MultigridPatching.views`` orders patches).
    """
    d = len(patches)
    space = y.shape[y.dim() - d :]
    if y.dim() < d + 1 or any(n % p for n, p in zip(space, patches)):
        raise ValueError(
            f"patch_cores: the last {d} axes of y {tuple(y.shape)} must be a grid divisible by the patch "
            f"counts {list(patches)}"
        )
    check_positions(positions, y.shape[0], math.prod(patches))
    rows = []
    for j, n, p in zip(_unravel(positions, patches), space, patches):
        s = n // p
        rows.append(j[:, None] * s + torch.arange(s, device=y.device)[None, :])
    return _gather(y, rows)


@register_model("multigrid-patching")
class MultigridPatching(OperatorModel):
    """A model applied patch by patch, each patch with ``levels`` coarser, wider views as extra channels.

    ``y = stitch( model( [V_0, V_1, ..., V_levels] ) )``, the views ``V_l`` as in the module docstring
    (Kossaifi et al. 2024, sec. 3.3).

    Parameters
    ----------
    model : nn.Module or mapping
        The operator applied to the patches, or ``{"name": registered model, "kwargs": {...}}`` (the form a
        checkpoint stores). It takes ``(levels + 1) C`` input channels for fields of ``C`` channels.
    patches : int or sequence of int
        Patches per axis (one int: the same on every axis); each must divide the grid size on its axis.
    levels : int
        Coarser views per patch (0: the patch alone). Level ``l`` strides ``2^l``, which must not exceed
        the patch core ``n / p``.
    padding : float
        Overlap per side as a fraction of the grid size, in [0, 1) (``q = round(padding n)`` points).
    periodic : bool
        Wrap around the domain (periodic data) or read zeros outside it (non-periodic data).
    sequential : bool
        Run one patch position at a time (checkpointed while gradients are on): less memory, more time.

    Shapes: ``(batch, C, *space) -> (batch, out_channels, *space)``, any grid the patches divide.
    """

    def __init__(
        self,
        model: ModelSpec,
        patches: int | Sequence[int] = 2,
        levels: int = 0,
        padding: float = 0.0,
        periodic: bool = True,
        sequential: bool = False,
    ) -> None:
        super().__init__()
        if isinstance(model, Mapping):
            if "name" not in model:
                raise ValueError(
                    f"model={dict(model)!r} must be an nn.Module or a mapping {{'name': ..., 'kwargs': {{...}}}}"
                )
            model = MODELS.create(model["name"], **dict(model.get("kwargs") or {}))
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module or a mapping, got {type(model).__name__}")
        if isinstance(levels, bool) or int(levels) != levels or levels < 0:
            raise ValueError(f"levels={levels!r} must be a whole number >= 0 (coarser views per patch)")
        if not 0.0 <= float(padding) < 1.0:
            raise ValueError(f"padding={padding!r} must be a fraction of the grid in [0, 1), e.g. 0.0625")
        self.model = model
        self.levels = int(levels)
        self.padding = float(padding)
        self.periodic = bool(periodic)
        self.sequential = bool(sequential)
        dim = getattr(model, "dim", None)
        if dim is None and isinstance(patches, int):
            raise ValueError(
                f"model {type(model).__name__} has no 'dim' attribute: give patches as one count per axis"
            )
        self.patches = (int(patches),) * dim if isinstance(patches, int) else tuple(int(p) for p in patches)
        if dim is not None and len(self.patches) != dim:
            raise ValueError(f"patches={list(self.patches)} must have {dim} entries, one per spatial axis")
        if not 1 <= len(self.patches) <= 3 or any(p < 1 for p in self.patches):
            raise ValueError(f"patches={patches!r} must be 1 to 3 positive counts, one per spatial axis")
        self.dim = len(self.patches)
        views = self.levels + 1
        inner = getattr(model, "in_channels", None)
        if inner is not None and int(inner) % views:
            raise ValueError(
                f"the model takes in_channels={inner}, which is not (levels + 1) x C for levels={levels}: build "
                f"it with in_channels = {views} x the fields' channels"
            )
        self.in_channels = None if inner is None else int(inner) // views
        self.out_channels = getattr(model, "out_channels", None)

    @property
    def n_patches(self) -> int:
        """Patches per sample, ``prod(patches)``."""
        return math.prod(self.patches)

    @property
    def n_modes(self) -> tuple[int, ...]:
        """The inner model's kept modes (settable when the inner model's are)."""
        return self.model.n_modes

    @n_modes.setter
    def n_modes(self, value: Sequence[int]) -> None:
        self.model.n_modes = value

    def geometry(self, space: Sequence[int]) -> list[tuple[int, int, int, int]]:
        """``(n, p, s, q)`` per axis for a grid ``space``; ``ValueError`` naming sizes that work."""
        out = []
        for axis, (n, p) in enumerate(zip(space, self.patches)):
            n = int(n)
            if n % p:
                near = sorted({(n // p) * p, (n // p + 1) * p} - {0})
                raise ValueError(
                    f"patches={p} on axis {axis} does not divide the grid size {n}: use a grid that is a "
                    f"multiple of {p} (e.g. {' or '.join(map(str, near))}) or patches in {_divisors(n)}"
                )
            s = n // p
            if 2**self.levels > s:
                most = int(math.log2(s))
                raise ValueError(
                    f"levels={self.levels} strides {2**self.levels} points, more than the patch core of {s} "
                    f"points on axis {axis} (grid {n} in {p} patches): use levels <= {most} or fewer patches"
                )
            out.append((n, p, s, round(self.padding * n)))
        return out

    def views(self, x: torch.Tensor) -> torch.Tensor:
        """The patches with their coarse views: ``(n_patches * B, (levels + 1) C, *P)``, patch-major (all
        samples of patch 0, then patch 1, ...; patches in C order over the axes)."""
        geo = self.geometry(x.shape[2:])
        d = self.dim
        stacked = []
        for level in range(self.levels + 1):
            v = x
            for axis in reversed(range(d)):  # last axis first, so earlier axes keep their position
                n, p, s, q = geo[axis]
                size = s + 2 * q
                idx = _axis_indices(n, p, size, 2**level).to(x.device)
                where = 2 + axis
                if self.periodic:
                    v = v.index_select(where, (idx % n).flatten())
                else:
                    inside = (idx >= 0) & (idx < n)
                    v = v.index_select(where, idx.clamp(0, n - 1).flatten())
                    mask = inside.flatten().to(v.dtype).reshape(-1, *([1] * (v.dim() - where - 1)))
                    v = v * mask
                v = v.unflatten(where, (p, size))
            stacked.append(v)
        v = torch.cat(stacked, dim=1)  # (B, (levels + 1) C, p1, P1, ..., pd, Pd)
        order = [2 + 2 * a for a in range(d)] + [0, 1] + [3 + 2 * a for a in range(d)]
        v = v.permute(order)
        return v.reshape(-1, *v.shape[d + 1 :])

    def views_at(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """The views of one patch per sample, ``positions[b]``: ``(B, (levels + 1) C, *P)``; row ``b`` equals
        row ``positions[b] * B + b`` of :meth:`views`, without building the other patches."""
        geo = self.geometry(x.shape[2:])
        check_positions(positions, x.shape[0], self.n_patches)
        at = _unravel(positions.to(x.device), self.patches)
        stacked = []
        for level in range(self.levels + 1):
            rows, inside = [], None
            for axis, ((n, p, s, q), j) in enumerate(zip(geo, at)):
                idx = _axis_indices(n, p, s + 2 * q, 2**level).to(x.device)[j]  # (B, P)
                if self.periodic:
                    rows.append(idx % n)
                    continue
                rows.append(idx.clamp(0, n - 1))
                shape = [idx.shape[0]] + [idx.shape[1] if a == axis else 1 for a in range(self.dim)]
                ok = ((idx >= 0) & (idx < n)).reshape(shape)  # zeros outside a non-periodic grid
                inside = ok if inside is None else inside & ok
            v = _gather(x, rows)
            stacked.append(v if inside is None else v * inside.unsqueeze(1).to(v.dtype))
        return torch.cat(stacked, dim=1)

    def stitch(self, y: torch.Tensor, batch: int, space: Sequence[int]) -> torch.Tensor:
        """Patch outputs ``(n_patches * B, C, *P)`` without their overlap, back on the grid ``(B, C, *space)``."""
        geo = self.geometry(space)
        d = self.dim
        crop = tuple(slice(q, q + s) for n, p, s, q in geo)
        y = y[(slice(None), slice(None), *crop)]
        y = y.reshape(*self.patches, batch, y.shape[1], *[s for _, _, s, _ in geo])
        order = [d, d + 1] + [i for a in range(d) for i in (a, d + 2 + a)]
        return y.permute(order).reshape(batch, y.shape[d + 1], *space)

    def forward(self, x: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, C, *space) -> (B, C_out, *space)`` stitched; with ``positions`` (one patch index per sample)
        only those patches, ``(B, C_out, *s)`` without their overlap (patch-level training)."""
        channels = x.shape[1] if self.in_channels is None or x.dim() < 2 else self.in_channels
        x = self.check_input(x, channels, self.dim)
        batch, space = x.shape[0], tuple(x.shape[2:])
        if positions is not None:
            y = self.model(self.views_at(x, positions))
            crop = tuple(slice(q, q + s) for _, _, s, q in self.geometry(space))
            return y[(slice(None), slice(None), *crop)]
        patches = self.views(x)
        if self.sequential and self.n_patches > 1:
            chunks = patches.split(batch)
            if torch.is_grad_enabled():
                outs = [checkpoint(self.model, c, use_reentrant=False) for c in chunks]
            else:
                outs = [self.model(c) for c in chunks]
            y = torch.cat(outs)
        else:
            y = self.model(patches)
        return self.stitch(y, batch, space)


MODELS.register(
    "mg-tfno-2d",
    MultigridPatching,
    defaults={
        "model": {
            "name": "tfno",
            "kwargs": {
                "n_modes": [16, 16],
                "hidden_channels": 64,
                "in_channels": 3,
                "spectral": {"factorization": "tucker", "rank": 0.02, "joint_factorization": True},
            },
        },
        "patches": 2,
        "levels": 2,
        "padding": 0.0625,
    },
    description="MG-TFNO: joint Tucker TFNO (2% of the dense stack) on 2x2 patches with 2 coarse levels",
    family="multigrid-patching",
)
