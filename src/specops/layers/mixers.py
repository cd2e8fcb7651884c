"""Mixers by name: the spatial operator of a Fourier block, chosen in a model's arguments (``mixer="aff"``).

A mixer maps ``(batch, C, *space) -> (batch, C, *space)``; ``FNOBlock`` adds the skip, the channel MLP and
the norms around it. Each name resolves, once in the model's constructor, to a builder of one mixer per
block; ``mixer_options`` (plain data) are passed to the layer's constructor and checked against it.

==================  ==================================================  ===============  ================
name                layer                                               resolution-free  reference
==================  ==================================================  ===============  ================
``spectral``        ``SpectralConv`` (the model's ``spectral`` options)  yes              Li et al. 2021
``aff``             ``AFFMixer``, adaptive frequency filtering           yes              Huang et al. 2023
``ffc``             ``FFCMixer``, fast Fourier convolution               no               Chi et al. 2020
``fdconv``          ``FDConv``, frequency dynamic convolution            no               Chen et al. 2025
``weighted-conv``   ``WeightedConv``, density-weighted convolution       no               Cammarasana 2025
``rpe-attention``   ``KernelizedRPEAttention`` (FFT-applied RPE)         yes              Luo et al. 2021
``karat``           ``FourierKArAtAttention``                            yes              Maity et al. 2025
==================  ==================================================  ===============  ================

Resolution-free mixers give nearly the same function at any grid; the others have kernels of a fixed size
in grid points and refuse a grid other than the first they see (``local_conv.FixedResolution``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from specops.layers.attention import FourierKArAtAttention
from specops.layers.attention_rpe import KernelizedRPEAttention
from specops.layers.fdconv import FDConv
from specops.layers.fourier_mixers import AFFMixer, FFCMixer
from specops.layers.local_conv import WeightedConv
from specops.layers.spectral_conv import SpectralConv, SpectralConvSpec


@dataclass(frozen=True)
class MixerEntry:
    """A named mixer: its layer class, how the block's width and dimension enter it, and whether it
    defines an operator between functions (works at any resolution)."""

    layer: type[nn.Module]
    build: Callable[..., nn.Module]
    resolution_free: bool
    fixed: tuple[str, ...]  # constructor arguments set by the model, not by options


MIXERS: dict[str, MixerEntry] = {
    "spectral": MixerEntry(SpectralConv, lambda c, d, modes, spec, **o: spec.build(c, c, modes), True, ()),
    "aff": MixerEntry(AFFMixer, lambda c, d, modes, spec, **o: AFFMixer(c, **o), True, ("channels",)),
    "ffc": MixerEntry(
        FFCMixer, lambda c, d, modes, spec, **o: FFCMixer(c, d, **o), False, ("channels", "dim")
    ),
    "fdconv": MixerEntry(
        FDConv,
        lambda c, d, modes, spec, **o: FDConv(c, c, d, **o),
        False,
        ("in_channels", "out_channels", "dim"),
    ),
    "weighted-conv": MixerEntry(
        WeightedConv,
        lambda c, d, modes, spec, **o: WeightedConv(c, c, d, **o),
        False,
        ("in_channels", "out_channels", "dim"),
    ),
    "rpe-attention": MixerEntry(
        KernelizedRPEAttention,
        lambda c, d, modes, spec, **o: KernelizedRPEAttention(c, d, **o),
        True,
        ("channels", "dim"),
    ),
    "karat": MixerEntry(
        FourierKArAtAttention,
        lambda c, d, modes, spec, **o: FourierKArAtAttention(c, d, **o),
        True,
        ("channels", "dim"),
    ),
}

_NOT_OPTIONS = ("self", "activation")  # callables stay fixed: options are plain data


def mixer_options(name: str) -> list[str]:
    """The option names the mixer ``name`` takes in ``mixer_options``."""
    entry = get_mixer(name)
    if entry.layer is SpectralConv:  # configured by the model's ``spectral`` group
        return []
    params = inspect.signature(entry.layer.__init__).parameters
    return [p for p in params if p not in _NOT_OPTIONS and p not in entry.fixed]


def get_mixer(name: str) -> MixerEntry:
    """The entry of ``name``; ``ValueError`` listing the valid names otherwise."""
    if name not in MIXERS:
        raise ValueError(f"mixer={name!r} is not a mixer; valid: {', '.join(MIXERS)}")
    return MIXERS[name]


def mixer_factory(
    name: str,
    options: Mapping[str, Any] | None,
    *,
    dim: int,
    n_modes: Sequence[int],
    spectral: SpectralConvSpec,
) -> Callable[[int], nn.Module]:
    """A builder ``width -> mixer`` for the mixer ``name`` with ``options`` (checked here, once).

    ``n_modes`` and ``spectral`` reach the ``spectral`` mixer; the others take ``options`` (their
    constructor's keyword arguments other than the width, the dimension and callables).
    """
    entry = get_mixer(name)
    options = dict(options or {})
    valid = mixer_options(name)
    unknown = [k for k in options if k not in valid]
    if unknown:
        raise ValueError(
            f"mixer_options has {unknown[0]!r}, which mixer {name!r} does not take; valid: "
            f"{', '.join(valid) or 'none (use the spectral options)'}"
        )
    modes = tuple(n_modes)
    return lambda width: entry.build(width, dim, modes, spectral, **options)
