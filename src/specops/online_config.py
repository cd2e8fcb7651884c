"""The ``online`` section of a run configuration (plain data; a leaf module like ``config.py``).

With ``online.problem`` set, ``specops train`` trains on samples streamed from solver workers instead of a
data file (``specops.pipeline.online``, docs/online.md): sample ``i`` of the stream is made from seed
``seed + i``; the validation set is ``n_val`` samples from seeds ``val_seed + j``, far outside the
training range (default ``seed + 2**40``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from specops.seeding import check_seed
from specops.values import ConfigError

PolicyName = Literal["fifo", "firo", "reservoir"]
OnErrorName = Literal["skip", "raise"]
VAL_OFFSET = 2**40  # default distance of the validation seeds from the stream's


@dataclass
class OnlineConfig:
    """Online training: the problem and its arguments, the workers, the buffer, the stream's length.

    ``problem``: a registered problem or preset (``specops list``), ``problem_args`` its ``--set`` values;
    ``workers`` solver processes (``cluster``: a Ray address, ``ray://HOST:PORT`` or ``auto``, for Ray
    actors instead), each ``threads`` torch threads (None: the cores left after the trainer's, shared),
    solving on ``device`` (None: the CPU) in ``dtype``, ``chunk`` seeds per solver call, ``prefetch`` calls
    ahead; the buffer (``buffer_size``, ``watermark`` (None: half the buffer), ``policy``); the stream's
    end (``max_samples``, ``max_time`` seconds of training); ``steps_per_epoch`` batches between
    validations; faults (``max_restarts`` per worker, ``on_error`` for a seed whose solve fails,
    ``timeout`` seconds for one batch).
    """

    problem: str | None = None
    problem_args: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    val_seed: int | None = None
    n_val: int = 32
    workers: int = 2
    cluster: str | None = None
    threads: int | None = None
    device: str | None = None
    dtype: Literal["float32", "float64"] = "float32"
    chunk: int = 8
    prefetch: int = 2
    buffer_size: int = 1024
    watermark: int | None = None
    policy: PolicyName = "reservoir"
    steps_per_epoch: int = 100
    max_samples: int | None = None
    max_time: float | None = None
    max_restarts: int = 3
    on_error: OnErrorName = "skip"
    timeout: float = 600.0

    def __post_init__(self) -> None:
        rules = {
            name: (getattr(self, name) >= 1, f"at least 1, got {getattr(self, name)}")
            for name in ("workers", "chunk", "prefetch", "buffer_size", "steps_per_epoch", "n_val")
        }
        for name in ("threads", "max_samples"):
            value = getattr(self, name)
            rules[name] = (value is None or value >= 1, f"at least 1 or null, got {value}")
        rules["watermark"] = (
            self.watermark is None or 1 <= self.watermark <= self.buffer_size,
            f"in [1, buffer_size={self.buffer_size}] or null, got {self.watermark}",
        )
        rules["max_time"] = (
            self.max_time is None or self.max_time > 0,
            f"positive or null, got {self.max_time}",
        )
        rules["timeout"] = (self.timeout > 0, f"positive, got {self.timeout}")
        rules["max_restarts"] = (self.max_restarts >= 0, f"0 or more, got {self.max_restarts}")
        rules["policy"] = (
            self.policy in ("fifo", "firo", "reservoir"),
            f"fifo, firo or reservoir, got {self.policy!r}",
        )
        rules["on_error"] = (self.on_error in ("skip", "raise"), f"skip or raise, got {self.on_error!r}")
        for key, (ok, expected) in rules.items():
            if not ok:
                raise ConfigError(f"online.{key} must be {expected}")
        try:
            check_seed(self.seed, "online.seed")
            if self.val_seed is not None:
                check_seed(self.val_seed, "online.val_seed")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    @property
    def enabled(self) -> bool:
        return self.problem is not None

    @property
    def validation_seed(self) -> int:
        """First seed of the validation set: ``val_seed``, by default ``seed + 2**40``."""
        return self.val_seed if self.val_seed is not None else self.seed + VAL_OFFSET

    @property
    def buffer_watermark(self) -> int:
        return self.watermark if self.watermark is not None else max(1, self.buffer_size // 2)
