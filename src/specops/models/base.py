"""What every specops model shares: one registration that names it, recorded constructor arguments (so a
checkpoint alone rebuilds it), and input checks at the boundary.

``@register_model("name")`` is the one place a model's name is given: it enters the class in
``specops.registry.MODELS``, sets ``registry_name`` from it and makes the constructor record its
arguments. ``specops.save`` looks the name up by class, so a saved name always builds the saved class.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

import torch
from torch import nn

from specops.registry import MODELS, Options

M = TypeVar("M", bound=type)


def to_plain(value: Any, where: str) -> Any:
    """``value`` as data a weights-only checkpoint (and YAML) can hold; ``TypeError`` naming ``where``.

    Numbers, strings, booleans and None stay; numpy/torch scalars become numbers; tuples become lists;
    ``Options`` groups (``SpectralConvSpec``, ...) become mappings of their fields; a registered model
    (a wrapper's inner model) becomes ``{"name", "kwargs"}``, which ``MODELS.create`` rebuilds.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy / torch scalars
        return value.item()
    if isinstance(value, Options):
        return to_plain(value.to_plain(), where)
    recorded = getattr(value, "init_args", None)
    if isinstance(value, nn.Module) and MODELS.name_of(type(value)) and isinstance(recorded, dict):
        # a registered model given to another (a wrapper's inner model): its name and arguments
        return {"name": MODELS.name_of(type(value)), "kwargs": to_plain(recorded, f"{where}.kwargs")}
    if isinstance(value, (list, tuple)):
        return [to_plain(v, where) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_plain(v, f"{where}.{k}") for k, v in value.items()}
    raise TypeError(
        f"{where}={value!r} cannot be saved in a checkpoint: constructor arguments must be numbers, "
        f"strings, booleans, None, or lists/dicts of them (pass names, e.g. activation='gelu'); a model "
        f"given to another (a wrapper's inner model) must be registered with @specops.register_model"
    )


def record_init_args(cls: type) -> type:
    """Make ``cls.__init__`` store its bound arguments in ``self.init_args`` (plain data where possible).

    Only the outermost constructor of an instance records, so a subclass calling ``super().__init__`` keeps
    its own arguments. Values that are not plain data are kept as given; ``specops.save`` reports them.
    """
    original = cls.__init__
    if getattr(original, "_records_init_args", None) is cls:
        return cls
    signature = inspect.signature(original)

    @functools.wraps(original)
    def init(self, *args: Any, **kw: Any) -> None:
        original(self, *args, **kw)
        if type(self).__init__ is not init:  # a subclass's constructor records instead
            return
        bound = signature.bind(self, *args, **kw)
        bound.apply_defaults()
        recorded: dict[str, Any] = {}
        for name, value in list(bound.arguments.items())[1:]:  # [0] is self
            if signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
                recorded.update(value)
            elif signature.parameters[name].kind is not inspect.Parameter.VAR_POSITIONAL:
                recorded[name] = value
        self.init_args = {}
        for k, v in recorded.items():
            try:
                self.init_args[k] = to_plain(v, f"{cls.__name__}.{k}")
            except TypeError:
                self.init_args[k] = v

    init._records_init_args = cls
    cls.__init__ = init
    return cls


def register_model(name: str, *, description: str = "") -> Callable[[M], M]:
    """Class decorator: register an ``nn.Module`` subclass as the model ``name``.

    The class is entered in ``MODELS`` (``specops.create_model(name, ...)`` builds it), its
    ``registry_name`` is set, and its constructor records its arguments, so ``specops.save`` /
    ``specops.load`` round-trip it as long as those arguments are plain data (numbers, strings, lists,
    dicts). ``description`` defaults to the docstring's first line.

    >>> @register_model("my-net")
    ... class MyNet(torch.nn.Module):
    ...     def __init__(self, width: int = 8): ...
    """

    def add(cls: M) -> M:
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            raise TypeError(f"register_model({name!r}) decorates an nn.Module subclass, not {cls!r}")
        if MODELS.name_of(cls) is not None:
            raise ValueError(f"{cls.__name__} is already registered as model {MODELS.name_of(cls)!r}")
        MODELS.register(name, cls, description=description)
        record_init_args(cls)
        cls.registry_name = name.lower()
        return cls

    return add


def fold_options(kwargs: Mapping[str, Any], groups: Mapping[str, tuple[type[Options], Mapping]]) -> dict:
    """Constructor arguments of an older release with flat options moved into their groups.

    ``groups`` maps a group argument (``"spectral"``) to its ``Options`` class and the model's defaults
    for it. Flat arguments equal to those defaults are dropped, so an old model with default options and
    a new one built with none compare equal (as resuming a run requires).
    """
    out = dict(kwargs)
    for group, (options, defaults) in groups.items():
        default = to_plain(options.coerce(None, group, defaults).to_plain(), group)
        moved = {k: out.pop(k) for k in options.field_names() if k in out}
        changed = {k: v for k, v in moved.items() if to_plain(v, k) != default[k]}
        if changed:
            out[group] = {**changed, **(out.get(group) or {})}
    return out


class OperatorModel(nn.Module):
    """Base class of the neural operators: records constructor arguments, checks inputs.

    Register a subclass with ``@register_model("name")``. Its ``__init__`` arguments are recorded in
    ``init_args`` automatically, for ``specops.save``/``specops.load``.

    Attributes
    ----------
    check_finite : bool or None
        Whether ``check_input`` scans inputs for NaN and inf. None (the default): on the CPU only, where
        the scan is one cheap pass; on an accelerator reading its answer would stall the host until the
        device catches up (a synchronization per forward), so it is skipped unless set to True. A NaN
        input there still surfaces as a NaN loss, which the trainer reports.
    """

    registry_name: ClassVar[str] = ""
    init_args: dict[str, Any]
    check_finite: bool | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            record_init_args(cls)

    @classmethod
    def upgrade_args(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Constructor arguments stored by an older specops (model format 1), in today's form."""
        return kwargs

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
        check = self.check_finite if self.check_finite is not None else x.device.type == "cpu"
        if check and not torch.isfinite(x).all():
            bad = (~torch.isfinite(x)).nonzero()[0].tolist()
            raise ValueError(
                f"input x contains NaN or inf (first at index {tuple(bad)}); clean or mask the data before "
                f"calling the model"
            )
        dtype = next(self.parameters()).dtype
        if x.dtype != dtype:
            x = x.to(dtype)
        return x
