"""Per-channel normalizers: fitted on the training split, saved with checkpoints, applied everywhere alike.

The channel axis is the one just before the ``ndim`` spatial axes, so one normalizer handles
``(N, C, *space)``, ``(C, *space)`` and ``(N, T, C, *space)``. Statistics are accumulated in float64 with
the parallel (Chan et al.) update, so a dataset larger than memory can be fitted in a stream of batches.
A channel that is constant in the training data gets scale 1 instead of its (zero) spread, so encoding
stays finite (the classic NaN-std bug).

References: T. F. Chan, G. H. Golub, R. J. LeVeque, "Updating formulae and a pairwise algorithm for
computing sample variances", 1979 (the combination of partial means and M2).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import torch
from torch import nn

from specops.registry import Registry

NORMALIZERS = Registry("normalizer")


class Normalizer(nn.Module):
    """Base class: shape checks, streamed fitting, the kind/size kept in the state dict.

    Parameters
    ----------
    n_channels : int
        Size of the channel axis.
    ndim : int
        Number of spatial axes after the channel axis.
    eps : float
        Relative tolerance below which a channel counts as constant (its scale becomes 1).
    """

    kind = "base"

    def __init__(self, n_channels: int, ndim: int, eps: float = 1e-6) -> None:
        super().__init__()
        if int(n_channels) < 1 or not 0 <= int(ndim) <= 3:
            raise ValueError(f"n_channels={n_channels} must be >= 1 and ndim={ndim} between 0 and 3")
        self.n_channels, self.ndim, self.eps = int(n_channels), int(ndim), float(eps)
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self._fitted = False  # mirrors count > 0 on the host: encode/decode never wait for the device

    # -- shapes ---------------------------------------------------------------------------------------
    def _check(self, x: torch.Tensor) -> None:
        axis = -(self.ndim + 1)
        if x.ndim < self.ndim + 1 or x.shape[axis] != self.n_channels:
            raise ValueError(
                f"{type(self).__name__} expects {self.n_channels} channels on the axis before the {self.ndim} "
                f"spatial axes, got a tensor of shape {tuple(x.shape)}; pass (..., C, *space) data"
            )

    def _view(self, stat: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return stat.to(device=like.device, dtype=like.dtype).reshape(-1, *([1] * self.ndim))

    def _per_channel(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` as ``(C, points)`` float64."""
        self._check(x)
        return x.detach().movedim(-(self.ndim + 1), 0).reshape(self.n_channels, -1).to(torch.float64)

    def _require_fit(self) -> None:
        if not self._fitted:
            raise RuntimeError(f"{type(self).__name__} has not been fitted; call .fit(training_data) first")

    # -- fitting --------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the statistics (a new ``fit`` starts from scratch)."""
        for buf in self.buffers():
            buf.zero_()
        self._fitted = False

    def update(self, x: torch.Tensor) -> Normalizer:
        """Add one batch (any leading axes) to the statistics."""
        values = self._per_channel(x).to(self.count.device)
        self._update(values)
        self._fitted = self._fitted or values.shape[1] > 0
        return self

    def fit(self, data: torch.Tensor | Iterable[torch.Tensor]) -> Normalizer:
        """Fit on a tensor, or on an iterable of tensors streamed one at a time (same result)."""
        self.reset()
        for batch in [data] if torch.is_tensor(data) else data:
            self.update(batch)
        if self.count.item() == 0:
            raise ValueError(f"{type(self).__name__}.fit got no data; pass the training tensors")
        return self

    def _update(self, x: torch.Tensor) -> None:
        self.count += x.shape[1]

    # -- use ------------------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Normalized ``x`` (same shape)."""
        raise NotImplementedError

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`encode`."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x)

    # -- persistence ----------------------------------------------------------------------------------
    def get_extra_state(self) -> dict[str, Any]:
        return {"kind": self.kind, "n_channels": self.n_channels, "ndim": self.ndim, "eps": self.eps}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        if state.get("kind") != self.kind or state.get("n_channels") != self.n_channels:
            raise ValueError(
                f"state is for a {state.get('kind')} normalizer with {state.get('n_channels')} channels, not "
                f"{self.kind} with {self.n_channels}; rebuild it with normalizer_from_state(state)"
            )
        self.ndim, self.eps = int(state["ndim"]), float(state["eps"])
        self._fitted = bool(self.count.item() > 0)  # buffers are loaded before the extra state

    def extra_repr(self) -> str:
        return f"n_channels={self.n_channels}, ndim={self.ndim}, fitted={bool(self.count.item())}"


@NORMALIZERS.register("gaussian", description="per-channel (x - mean) / std")
class GaussianNormalizer(Normalizer):
    """Per-channel standardization ``(x - mean_c) / std_c``; ``std_c`` is the population std over the
    training samples and points of channel ``c``, replaced by 1 for a constant channel."""

    kind = "gaussian"

    def __init__(self, n_channels: int, ndim: int, eps: float = 1e-6) -> None:
        super().__init__(n_channels, ndim, eps)
        self.register_buffer("mean", torch.zeros(self.n_channels, dtype=torch.float64))
        self.register_buffer("m2", torch.zeros(self.n_channels, dtype=torch.float64))

    def _update(self, x: torch.Tensor) -> None:
        n_b = x.shape[1]
        if n_b == 0:
            return
        mean_b = x.mean(dim=1)
        m2_b = ((x - mean_b[:, None]) ** 2).sum(dim=1)
        total = self.count + n_b
        delta = mean_b - self.mean
        self.mean += delta * (n_b / total)
        self.m2 += m2_b + delta**2 * (self.count * n_b / total)
        self.count.copy_(total)

    @property
    def std(self) -> torch.Tensor:
        """Population standard deviation per channel (float64)."""
        return torch.sqrt(self.m2 / self.count.clamp_min(1))

    @property
    def scale(self) -> torch.Tensor:
        """``std`` where it is meaningful, 1 for channels constant up to ``eps`` (relative)."""
        std = self.std
        constant = std <= self.eps * (self.mean.abs() + std)
        return torch.where(constant, torch.ones_like(std), std)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        self._require_fit()
        self._check(x)
        return (x - self._view(self.mean, x)) / self._view(self.scale, x)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        self._require_fit()
        self._check(x)
        return x * self._view(self.scale, x) + self._view(self.mean, x)


@NORMALIZERS.register("minmax", description="per-channel (x - min) / (max - min), into [0, 1]")
class MinMaxNormalizer(Normalizer):
    """Per-channel affine map of the training range onto ``[0, 1]``: ``(x - min_c) / (max_c - min_c)``;
    the range of a constant channel is replaced by 1."""

    kind = "minmax"

    def __init__(self, n_channels: int, ndim: int, eps: float = 1e-6) -> None:
        super().__init__(n_channels, ndim, eps)
        self.register_buffer("min", torch.full((self.n_channels,), float("inf"), dtype=torch.float64))
        self.register_buffer("max", torch.full((self.n_channels,), float("-inf"), dtype=torch.float64))

    def reset(self) -> None:
        super().reset()
        self.min.fill_(float("inf"))
        self.max.fill_(float("-inf"))

    def _update(self, x: torch.Tensor) -> None:
        if x.shape[1] == 0:
            return
        torch.minimum(self.min, x.amin(dim=1), out=self.min)
        torch.maximum(self.max, x.amax(dim=1), out=self.max)
        self.count += x.shape[1]

    @property
    def scale(self) -> torch.Tensor:
        width = self.max - self.min
        constant = width <= self.eps * (self.max.abs() + self.min.abs())
        return torch.where(constant, torch.ones_like(width), width)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        self._require_fit()
        self._check(x)
        return (x - self._view(self.min, x)) / self._view(self.scale, x)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        self._require_fit()
        self._check(x)
        return x * self._view(self.scale, x) + self._view(self.min, x)


@NORMALIZERS.register("none", description="no normalization")
class IdentityNormalizer(Normalizer):
    """Leaves data unchanged (still checks the channel count, and counts what it was fitted on)."""

    kind = "none"

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        return x

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        return x


def make_normalizer(
    kind: Literal["gaussian", "minmax", "none"], n_channels: int, ndim: int, eps: float = 1e-6
) -> Normalizer:
    """An unfitted normalizer of the given kind (``"gaussian"``, ``"minmax"`` or ``"none"``)."""
    return NORMALIZERS.create(kind, n_channels=n_channels, ndim=ndim, eps=eps)


def normalizer_from_state(state: dict[str, Any]) -> Normalizer:
    """Rebuild a fitted normalizer from its ``state_dict()`` (as stored in a checkpoint)."""
    extra = state.get("_extra_state") if isinstance(state, dict) else None
    if not isinstance(extra, dict) or "kind" not in extra:
        raise ValueError(
            "normalizer state has no '_extra_state' with its kind; save normalizers with .state_dict() "
            f"(got keys {sorted(state) if isinstance(state, dict) else type(state).__name__})"
        )
    norm = make_normalizer(extra["kind"], extra["n_channels"], extra["ndim"], extra.get("eps", 1e-6))
    norm.load_state_dict(state)
    return norm


def fit_normalizers(
    dataset: Any, kind: Literal["gaussian", "minmax", "none"], *, batch_size: int = 64
) -> tuple[Normalizer, Normalizer]:
    """Fit an input and an output normalizer on every item of ``dataset`` (raw values): the one routine
    that fits normalizers, for ``specops train`` and ``load_splits`` alike.

    ``dataset`` yields ``{"x", "y"}`` dicts and exposes ``in_channels``, ``out_channels`` and ``ndim``.
    Items are stacked ``batch_size`` at a time, so memory stays bounded for any dataset size. ``"none"``
    gives identity normalizers without reading the data.
    """
    x_norm = make_normalizer(kind, dataset.in_channels, dataset.ndim)
    y_norm = make_normalizer(kind, dataset.out_channels, dataset.ndim)
    if kind == "none":
        return x_norm, y_norm
    get = dataset.__getitem__
    n = len(dataset)
    if n == 0:
        raise ValueError("fit_normalizers got an empty dataset; fit on the training split")
    x_norm.reset()
    y_norm.reset()
    for start in range(0, n, batch_size):
        items = [get(i) for i in range(start, min(n, start + batch_size))]
        x_norm.update(torch.stack([item["x"] for item in items]))
        y_norm.update(torch.stack([item["y"] for item in items]))
    return x_norm, y_norm
