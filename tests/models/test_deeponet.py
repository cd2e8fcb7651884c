import pytest
import torch

import specops
from specops.models.deeponet import DeepONet, MultiONet, grid_points, sample_lattice
from tests.helpers import assert_close


def test_deeponet_is_the_sum_of_branch_times_trunk():
    torch.manual_seed(0)
    model = DeepONet(1, 1, 2, sensors=8, width=16, basis=5).double()
    x = torch.randn(3, 1, 16, dtype=torch.float64)
    points = torch.rand(7, 1, dtype=torch.float64)
    b = model.branch(x[..., ::2].reshape(3, -1)).reshape(3, 2, 5)
    t = model.trunk(points).reshape(7, 2, 5)
    expected = torch.stack([(b[:, k, None, :] * t[None, :, k, :]).sum(-1) for k in range(2)], 1)
    assert_close(model.query(x, points), expected + model.bias[:, None], rtol=1e-12, atol=1e-14)


def test_multionet_averages_weighted_inner_products_of_the_last_layers():
    torch.manual_seed(0)
    model = MultiONet(2, 1, 1, sensors=4, width=6, n_layers=3, sum_layers=2).double()
    with torch.no_grad():
        model.fc_out.weight.fill_(1.0)
        model.fc_out.bias.zero_()
        model.layer_weights.copy_(torch.tensor([0.3, 1.7], dtype=torch.float64))
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    points = torch.rand(5, 2, dtype=torch.float64)
    values = x[..., ::2, ::2].reshape(2, -1)
    bs, ts = model.branch.hidden(values), model.trunk.hidden(points)
    expected = (0.3 * bs[1] @ ts[1].T + 1.7 * bs[2] @ ts[2].T) / 2
    assert_close(model.query(x, points)[:, 0], expected, rtol=1e-12, atol=1e-14)


def test_multionet_folded_product_equals_the_output_layer_of_the_features():
    # operator() folds fc_out into one (B, K, l H) x (l H, P) product; it must equal fc_out(features)
    torch.manual_seed(1)
    model = MultiONet(2, 1, 3, sensors=4, width=6, n_layers=4, sum_layers=3).double()
    with torch.no_grad():
        model.layer_weights.copy_(torch.tensor([0.4, -1.2, 2.0], dtype=torch.float64))
    values, points = torch.randn(2, 16, dtype=torch.float64), torch.rand(9, 2, dtype=torch.float64)
    expected = model.fc_out(model.features(values, points)).transpose(1, 2)
    assert_close(model.operator(values, points), expected, rtol=1e-12, atol=1e-14)


def test_grid_output_is_the_query_at_the_nodes_and_sensors_are_interpolated_exactly_on_linear_data():
    torch.manual_seed(0)
    model = specops.create_model("multionet-2d", sensors=4, width=8, n_layers=2, sum_layers=2)
    x = torch.randn(2, 1, 8, 12)
    assert_close(
        model(x).reshape(2, 1, -1), model.query(x, grid_points((8, 12), x.dtype, x.device)), rtol=1e-6
    )
    # 5 sensors on a 10-point periodic axis sit on nodes; on 12 points they are interpolated linearly
    ramp = torch.arange(12, dtype=torch.float64)[None, None]
    assert_close(sample_lattice(ramp, [5])[0, 0], torch.arange(5, dtype=torch.float64) * 12 / 5, rtol=1e-13)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="sum_layers=6"):
        MultiONet(1, sensors=4, n_layers=5, sum_layers=6)
    with pytest.raises(ValueError, match="activation='relu6'"):
        DeepONet(1, sensors=4, trunk_activation="relu6")
    with pytest.raises(ValueError, match="sensors="):
        DeepONet(2, sensors=[4, 4, 4])
