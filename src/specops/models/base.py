"""Base class of specops models: records constructor arguments so a checkpoint alone rebuilds the model."""

from __future__ import annotations

import functools
import inspect
from typing import Any, ClassVar

import torch
from torch import nn


def _plain(value: Any, where: str) -> Any:
    """Check a constructor argument can be stored in a weights-only checkpoint (and YAML)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy / torch scalars
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v, where) for k, v in value.items()}
    raise TypeError(
        f"{where}={value!r} cannot be saved in a checkpoint: constructor arguments must be numbers, "
        f"strings, booleans, None, or lists/dicts of them (pass names, e.g. activation='gelu')"
    )


class OperatorModel(nn.Module):
    """A neural operator. Subclasses set ``registry_name``; their ``__init__`` arguments are recorded in
    ``init_args`` automatically, for ``specops.save``/``specops.load``."""

    registry_name: ClassVar[str] = ""
    init_args: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        original = cls.__dict__.get("__init__")
        if original is None:
            return
        signature = inspect.signature(original)

        @functools.wraps(original)
        def init(self, *args: Any, **kw: Any) -> None:
            original(self, *args, **kw)
            if type(self).__init__ is init:  # only the outermost constructor records
                bound = signature.bind(self, *args, **kw)
                bound.apply_defaults()
                recorded = {}
                for name, value in bound.arguments.items():
                    if name == "self":
                        continue
                    if signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
                        recorded.update(value)
                    else:
                        recorded[name] = value
                self.init_args = {}
                for k, v in recorded.items():
                    try:
                        self.init_args[k] = _plain(v, f"{cls.__name__}.{k}")
                    except TypeError:  # kept as given; specops.save reports it
                        self.init_args[k] = v

        cls.__init__ = init

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def check_input(self, x: torch.Tensor, in_channels: int, ndim: int) -> torch.Tensor:
        """Validate a model input at the boundary: rank, channels, finiteness; match the parameter dtype."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"input must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() != ndim + 2:
            raise ValueError(
                f"input x has shape {tuple(x.shape)} ({x.dim()} axes); expected (batch, {in_channels}, "
                f"{ndim} spatial axes) = {ndim + 2} axes"
            )
        if not x.is_floating_point():
            kind = "complex" if x.is_complex() else "integer" if x.dtype != torch.bool else "boolean"
            raise TypeError(
                f"input x has dtype {x.dtype} ({kind}); the model takes real floating-point fields: convert "
                f"with x.float() (or x.double() for a float64 model)"
                + ("; for complex fields pass real and imaginary parts as channels" if x.is_complex() else "")
            )
        if x.shape[0] == 0 or x[0].numel() == 0:
            raise ValueError(
                f"input x of shape {tuple(x.shape)} is empty; give at least one sample with points"
            )
        if x.shape[1] != in_channels:
            raise ValueError(
                f"input x has {x.shape[1]} channels (shape {tuple(x.shape)}); in_channels={in_channels} was "
                f"expected: check the channel axis is second, (batch, channel, *space)"
            )
        if not torch.isfinite(x).all():
            bad = (~torch.isfinite(x)).nonzero()[0].tolist()
            raise ValueError(
                f"input x contains NaN or inf (first at index {tuple(bad)}); clean or mask the data before "
                f"calling the model"
            )
        dtype = next(self.parameters()).dtype
        if x.dtype != dtype:
            x = x.to(dtype)
        return x
