import math

import pytest
import torch

from specops.solvers.random_fields import (
    CosineRandomField,
    GaussianRandomField,
    LognormalField,
    RandomSines,
    ThresholdedField,
)
from tests.helpers import assert_close

SAMPLERS = [
    GaussianRandomField((64,), 2, 5, 25),
    GaussianRandomField((64, 64), 2.5, 7),
    GaussianRandomField((16, 12, 10), 3, 4),
    CosineRandomField((33, 33), 2, 3),
    ThresholdedField(CosineRandomField((17, 17), 2, 3)),
    LognormalField(CosineRandomField((9,), 2, 3), scale=0.5),
    RandomSines(64, 10.0),
]


@pytest.mark.parametrize("sampler", SAMPLERS, ids=lambda s: type(s).__name__)
def test_each_sample_depends_on_its_seed_only(sampler):
    seeds = [7, 0, 123456789, 7]
    batch = sampler.sample(seeds, dtype=torch.float64)
    assert batch.shape == (4, *sampler.shape)
    assert torch.equal(batch[0], batch[3])
    assert not torch.equal(batch[0], batch[1])
    for i, s in enumerate(seeds):
        assert torch.equal(sampler.sample([s], dtype=torch.float64)[0], batch[i])
    assert sampler.sample(seeds[:2], dtype=torch.float32).dtype == torch.float32
    assert isinstance(sampler.parameters(), dict)


def test_periodic_field_variance_matches_its_spectrum():
    grf = GaussianRandomField((32,), 2, 5, 25)
    samples = grf.sample(range(4000), dtype=torch.float64)
    empirical = samples.var(dim=0).mean().item()
    assert empirical == pytest.approx(grf.variance(), rel=0.05)
    assert abs(samples.mean().item()) < 0.05 * math.sqrt(grf.variance())
    assert_close(samples.mean(dim=-1), torch.zeros(4000, dtype=torch.float64), atol=1e-14, rtol=0)


def test_cosine_field_covariance_is_the_karhunen_loeve_sum():
    field = CosineRandomField((11,), alpha=2, tau=3, n_modes=6)
    samples = field.sample(range(6000), dtype=torch.float64)
    x = torch.linspace(0, 1, 11, dtype=torch.float64)
    k = torch.arange(1, 6, dtype=torch.float64)
    lam = field.sigma**2 * (math.pi**2 * k**2 + 9.0) ** (-2.0)
    phi = math.sqrt(2) * torch.cos(math.pi * x[:, None] * k[None, :])
    exact = (phi * lam) @ phi.T
    empirical = samples.T @ samples / samples.shape[0]
    assert_close(empirical, exact, atol=0.06 * exact.diagonal().max().item(), rtol=0, what="covariance")


def test_pointwise_maps():
    base = CosineRandomField((17, 17), 2, 3)
    g = base.sample([4], dtype=torch.float64)
    a = ThresholdedField(base, 12, 3).sample([4], dtype=torch.float64)
    assert_close(a, torch.where(g >= 0, 12.0, 3.0).to(torch.float64), atol=0, rtol=0)
    assert set(a.unique().tolist()) == {3.0, 12.0}
    ln = LognormalField(base, mean=0.1, scale=0.5).sample([4], dtype=torch.float64)
    assert_close(ln, torch.exp(0.1 + 0.5 * g), atol=0, rtol=1e-15)


def test_random_sines_are_sums_of_periodic_waves():
    sines = RandomSines(128, 16.0, n_waves=3, max_wavenumber=2, amplitude=0.4)
    u = sines.sample([0, 1], dtype=torch.float64)
    assert u.abs().max() <= 3 * 0.4
    spectrum = torch.fft.rfft(u, dim=-1).abs()
    assert bool((spectrum[:, 3:] < 1e-10).all()), "only wavenumbers 1 and 2 may appear"
    assert_close(spectrum[:, 0], torch.zeros(2, dtype=torch.float64), atol=1e-12, rtol=0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="seeds is empty"):
        GaussianRandomField((8,)).sample([])
    with pytest.raises(ValueError, match="alpha=-1"):
        GaussianRandomField((8,), alpha=-1)
    with pytest.raises(ValueError, match="1 to 2 axes"):
        CosineRandomField((4, 4, 4))
    with pytest.raises(ValueError, match="RandomSines needs"):
        RandomSines(16, 0.0)
