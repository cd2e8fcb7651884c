"""Data assimilation and inverse problems: observations, NODA, the ensemble Kalman filter, DGNO inversion.

``observe`` (sensor operators and noise), ``obsfile`` (``specops observe`` files), ``enkf`` (stochastic EnKF
with inflation and localisation, any forecast model), ``noda`` / ``train_noda`` (the learned observer of
Singh et al. 2024), ``inverse`` (posterior samples of a DGNO's coefficient from sparse noisy data). See
docs/assimilation.md.
"""

from specops.assimilation.enkf import EnKFResult, EnsembleKalmanFilter, gaspari_cohn, kalman_analysis
from specops.assimilation.inverse import Posterior, sample_posterior
from specops.assimilation.noda import NODA, noda_semigroup
from specops.assimilation.observe import (
    PointSensors,
    add_noise,
    grid_coords,
    noise_std,
    random_points,
    subsampled_points,
)
from specops.assimilation.obsfile import (
    Observations,
    TrajectoryData,
    observe,
    read_observations,
    read_trajectories,
    write_observations,
)
from specops.assimilation.train_noda import fit_noda

__all__ = [
    "NODA",
    "EnKFResult",
    "EnsembleKalmanFilter",
    "Observations",
    "PointSensors",
    "Posterior",
    "TrajectoryData",
    "add_noise",
    "fit_noda",
    "gaspari_cohn",
    "grid_coords",
    "kalman_analysis",
    "noda_semigroup",
    "noise_std",
    "observe",
    "random_points",
    "read_observations",
    "read_trajectories",
    "sample_posterior",
    "subsampled_points",
    "write_observations",
]
