"""Physics-informed losses: PDE residuals of predicted fields for every built-in equation (PINO).

``R(u) = du/dt - N(u) - L u`` for the periodic evolution equations (``EvolutionResidual``: Burgers, KdV,
Kuramoto-Sivashinsky, 2D Navier-Stokes vorticity; pseudo-spectral with the solver's de-aliasing, time
derivatives by ``time`` schemes), ``-div(a grad u) - f`` with ``u = 0`` on the boundary for Darcy
(``DarcyResidual``, the solver's five-point operator); their norms (``norms``: periodic and Dirichlet
Sobolev ``H^s``, L2 and H^-1); residuals rebuilt from a data file's metadata (``build``). See
docs/training.md ("Physics-informed training") and Li et al., "Physics-informed neural operator for
learning partial differential equations", arXiv 2111.03794.
"""

from specops.physics.build import (
    KNOWN_PDES,
    equation_from_metadata,
    frame_interval,
    pde_name,
    residual_for_file,
    residual_for_problem,
    residual_from_metadata,
)
from specops.physics.loss import PhysicsLoss
from specops.physics.norms import boundary_norm, dirichlet_sobolev_norm, dst1, time_rms
from specops.physics.residuals import DarcyResidual, EvolutionResidual, fourier_resample, regrid
from specops.physics.time import (
    TIME_SCHEMES,
    CentralDiff,
    FourierTime,
    TimeScheme,
    Trapezoidal,
    make_time_scheme,
    time_derivative,
)

__all__ = [
    "KNOWN_PDES",
    "TIME_SCHEMES",
    "CentralDiff",
    "DarcyResidual",
    "EvolutionResidual",
    "FourierTime",
    "PhysicsLoss",
    "TimeScheme",
    "Trapezoidal",
    "boundary_norm",
    "dirichlet_sobolev_norm",
    "dst1",
    "equation_from_metadata",
    "fourier_resample",
    "frame_interval",
    "make_time_scheme",
    "pde_name",
    "regrid",
    "residual_for_file",
    "residual_for_problem",
    "residual_from_metadata",
    "time_derivative",
    "time_rms",
]
