import pytest

from specops.data.generate import generate_dataset
from specops.solvers.problems import make_problem


@pytest.fixture(scope="session")
def ks_file(tmp_path_factory):
    """Two Kuramoto-Sivashinsky trajectories, 32 points, 11 frames one time unit apart."""
    ks = make_problem("ks", resolution=32, t_final=10.0, save_interval=1.0, dt=0.05)
    return generate_dataset(ks, 2, tmp_path_factory.mktemp("ks") / "ks.h5", progress=False)
