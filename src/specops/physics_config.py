"""The ``physics`` section of a run configuration (plain data; a leaf module like ``config.py``).

It says how the PDE residual of a physics-informed run is built and weighted (``specops.physics``,
docs/training.md). Keys that rebuild the equation (``pde``, ``nu``, ``lengths``, ``dt``, ``forcing``,
``params``) override the data file's metadata and are needed only when the metadata lack them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from specops.values import ConfigError

TimeSchemeName = Literal["trapezoidal", "central", "fourier"]


@dataclass
class PhysicsConfig:
    """How the physics loss is built: the equation (overrides of the file's metadata), the time scheme,
    the residual norm ``H^s`` (``s = 0``: L2, ``s = -1``: H^-1 with shift ``alpha``), the weights of the
    residual, initial-condition and boundary terms, the grid refinement of the residual, and instance
    fine-tuning's anchor weight (``specops finetune``). ``outputs_include_initial``: time-stepping runs in
    PINO's space-time layout, the model predicting the input state too (``initial_weight`` then weighs its
    misfit; ``specops.training.physics_task``). ``labelled_repeat``: mixed runs show each labelled training
    sample this many times per epoch (oversampling the few labels; ``specops.pipeline.physics``)."""

    pde: str | None = None
    nu: float | None = None
    lengths: list[float] | None = None
    dt: float | None = None
    forcing: float | str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    time_scheme: TimeSchemeName = "trapezoidal"
    s: float = 0.0
    alpha: float = 1.0
    residual_weight: float = 1.0
    initial_weight: float = 1.0
    boundary_weight: float = 1.0
    refine: int = 1
    anchor_weight: float = 0.1
    outputs_include_initial: bool = False
    labelled_repeat: int = 1

    def __post_init__(self) -> None:
        rules = {
            "nu": (self.nu is None or self.nu > 0, f"positive or null, got {self.nu}"),
            "dt": (self.dt is None or self.dt > 0, f"positive or null, got {self.dt}"),
            "refine": (self.refine >= 1, f"at least 1, got {self.refine}"),
            "labelled_repeat": (self.labelled_repeat >= 1, f"at least 1, got {self.labelled_repeat}"),
        }
        for name in ("residual_weight", "initial_weight", "boundary_weight", "anchor_weight"):
            value = getattr(self, name)
            rules[name] = (value >= 0, f"0 or more, got {value}")
        for key, (ok, expected) in rules.items():
            if not ok:
                raise ConfigError(f"physics.{key} must be {expected}")

    def overrides(self) -> dict[str, Any]:
        """The keys that rebuild the equation, as ``specops.physics.residual_from_metadata`` takes them."""
        keys = ("pde", "nu", "lengths", "dt", "forcing")
        out = {k: getattr(self, k) for k in keys if getattr(self, k) is not None}
        if self.params:
            out["params"] = dict(self.params)
        return out
