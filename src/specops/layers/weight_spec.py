"""Which spectral weight to build, as plain data: the one place a factorization name becomes a class.

``SpectralWeightSpec(factorization="tucker", rank=0.05)`` is checked when it is made and then called once
per layer, ``spec(in_channels, out_channels, modes, init_std)``, to build a ``SpectralWeight``. Names are
looked up in ``specops.registry.SPECTRAL_WEIGHTS``:

==========  =====================================  ================================================
name        class                                  options used
==========  =====================================  ================================================
``dense``   ``DenseWeight`` (also ``None``)        ``separable``
``cp``      ``CPWeight``                           ``separable``, ``rank``
``tucker``  ``TuckerWeight``                       ``separable``, ``rank``
``tt``      ``TTWeight``                           ``separable``, ``rank``
==========  =====================================  ================================================

A new weight type is one class registered under its name (``@SPECTRAL_WEIGHTS.register("mine")``); if it
needs an option the table lacks, that option is one more field here, read by its ``from_spec``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import specops.layers.factorized  # noqa: F401  (registers the low-rank weights)
from specops.layers.spectral_weight import SpectralWeight
from specops.registry import SPECTRAL_WEIGHTS, Options

Factorization = Literal["dense", "cp", "tucker", "tt"]

WeightFactory = Callable[[int, int, Sequence[int], float], SpectralWeight]
"""``factory(in_channels, out_channels, modes, init_std) -> SpectralWeight``; a ``SpectralWeightSpec`` is one."""


@dataclass(frozen=True)
class SpectralWeightSpec(Options):
    """A spectral weight by name and options; calling it builds one.

    Parameters
    ----------
    factorization : None or a registered name ("dense", "cp", "tucker", "tt")
        Form of the weight; None means dense.
    rank : float
        For low-rank forms: the fraction of the dense weight's parameter count to keep, in (0, 1].
        Ignored by the dense weight.
    separable : bool
        Depthwise weights ``W[c, k]`` (needs ``in_channels == out_channels``).
    """

    factorization: Factorization | None = None
    rank: float = 1.0
    separable: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.weight_class.low_rank and not 0.0 < self.rank <= 1.0:
            raise ValueError(
                f"rank={self.rank!r} must be a fraction of the dense parameter count in (0, 1], e.g. 0.05 "
                f"keeps ~5%"
            )

    @property
    def weight_class(self) -> type[SpectralWeight]:
        """The registered class ``factorization`` names."""
        name = "dense" if self.factorization is None else str(self.factorization).lower()
        if name not in SPECTRAL_WEIGHTS:
            valid = ", ".join(repr(n) for n in (None, *SPECTRAL_WEIGHTS.names()))
            raise ValueError(f"factorization={self.factorization!r} is not one of ({valid})")
        return SPECTRAL_WEIGHTS.get(name).target

    def __call__(
        self, in_channels: int, out_channels: int, modes: Sequence[int], init_std: float = 1.0
    ) -> SpectralWeight:
        """A new weight of this kind over ``modes`` (the stored mode-block shape), entries of std ``init_std``."""
        return self.weight_class.from_spec(in_channels, out_channels, modes, self, init_std)
