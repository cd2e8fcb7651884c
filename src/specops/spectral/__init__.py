"""Pure spectral math on periodic grids: no parameters, no nn.Modules.

Everything here is a function of tensors. Layers, losses and solvers build on it.
"""

from specops.spectral.derivatives import gradient, laplacian, spectral_derivative
from specops.spectral.fft import (
    dealias_mask,
    irfft_modes,
    kept_frequencies,
    rfft_modes,
    truncate_modes,
)
from specops.spectral.grid import grid_coordinates, meshgrid, wavenumbers
from specops.spectral.norms import sobolev_norm, sobolev_weights

__all__ = [
    "dealias_mask",
    "gradient",
    "grid_coordinates",
    "irfft_modes",
    "kept_frequencies",
    "laplacian",
    "meshgrid",
    "rfft_modes",
    "sobolev_norm",
    "sobolev_weights",
    "spectral_derivative",
    "truncate_modes",
    "wavenumbers",
]
