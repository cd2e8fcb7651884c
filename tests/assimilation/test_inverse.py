import pytest
import torch

from specops.assimilation import sample_posterior
from specops.models.dgno import DGNO


def test_posterior_fits_data_generated_by_the_model_and_reports_spread():
    torch.manual_seed(0)
    model = DGNO(lattice=5, latent=3, encoder_hidden=[8], width=16, n_layers=3, sum_layers=2)
    # scale the solution decoder so u is O(1) (an untrained model's u is tiny)
    with torch.no_grad():
        model.u_net.fc_out.weight.mul_(50)
    beta_true = torch.tanh(torch.tensor([[0.8, -0.5, 0.3]]))
    points = torch.rand(25, 2, generator=torch.Generator().manual_seed(2)) * 0.8 + 0.1
    with torch.no_grad():
        y = model.u_at(beta_true, points)[0]
    sigma = 0.01 * float(y.abs().mean())
    post = sample_posterior(
        model,
        points,
        y,
        sigma,
        n_grid=9,
        samples=4,
        map_steps=300,
        langevin_steps=20,
        lr=0.05,
        step_size=1e-6,
    )
    assert post.a_samples.shape == (4, 9, 9) and post.u_samples.shape == (4, 9, 9)
    with torch.no_grad():
        from specops.models.dgno import node_points

        u_true = model.u_at(beta_true, node_points(9, torch.float32))[0].reshape(9, 9)
    assert (post.u_mean - u_true).norm() / u_true.norm() < 0.1
    assert post.a_std.max() >= 0 and all(p.requires_grad for p in model.parameters())
    with pytest.raises(ValueError, match="sigma=0"):
        sample_posterior(model, points, y, 0.0, n_grid=9)
    with pytest.raises(ValueError, match="domain"):
        sample_posterior(model, points + 2, y, 0.1, n_grid=9)
