"""Presets of the FNO family with another mixer in its blocks (``specops.layers.mixers``), and of the FNO on
irregular points (``nuft-fno``).

The attention presets are small transformer operators: attention mixer + linear skip + channel MLP with
layer norms, the block of a pre-norm-free transformer, acting on the points of the grid. Only
resolution-free mixers have presets (every preset is checked to give the same function at two
resolutions); the pixel-kernel mixers (``ffc``, ``fdconv``, ``weighted-conv``) are chosen with
``mixer=...`` on ``fno``.
"""

from __future__ import annotations

from specops.models.fno import FNO
from specops.models.nuft_fno import NUFTFNO
from specops.registry import MODELS

_PRESETS = {
    "fno-2d-aff": (
        FNO,
        "fno",
        {"n_modes": [12, 12], "hidden_channels": 32, "mixer": "aff"},
        "FNO blocks with the AFF adaptive frequency filter as mixer (Huang et al. 2023), width 32",
    ),
    "transformer-2d-rpe": (
        FNO,
        "fno",
        {
            "n_modes": [12, 12],
            "hidden_channels": 32,
            "mixer": "rpe-attention",
            "mixer_options": {"heads": 4, "features": 16},
            "block": {"norm": "layer", "channel_mlp_expansion": 2.0},
        },
        "transformer operator: kernelized attention with FFT relative positions (Luo et al. 2021), width 32",
    ),
    "transformer-2d-karat": (
        FNO,
        "fno",
        {
            "n_modes": [12, 12],
            "hidden_channels": 32,
            "mixer": "karat",
            "mixer_options": {"heads": 4, "order": 8, "landmarks": 8},
            "block": {"norm": "layer", "channel_mlp_expansion": 2.0},
        },
        "transformer operator: Fourier-KArAt attention on 8x8 pooled keys (Maity et al. 2025), width 32",
    ),
    "nuft-fno-2d": (
        NUFTFNO,
        "nuft-fno",
        {"n_modes": [12, 12], "hidden_channels": 32, "latent_grid": [32, 32]},
        "FNO on irregular points of the unit square: NUFT in, FNO on a 32^2 latent grid, NUFT out",
    ),
}
for _name, (_cls, _family, _defaults, _doc) in _PRESETS.items():
    MODELS.register(_name, _cls, defaults=_defaults, description=_doc, family=_family)
