import itertools
import math

import pytest
import torch

from specops.layers.attention import FourierKArAtAttention, exp_fit, fourier_series
from specops.layers.attention_rpe import (
    KernelizedRPEAttention,
    positive_features,
    rpe_attention_fft,
    rpe_attention_quadratic,
)
from tests.helpers import assert_close


def projected(att, x):
    return att.split(att.query(x)), att.split(att.key(x)), att.split(att.value(x))


@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("space", [(12,), (6, 5)])
def test_fft_rpe_attention_equals_the_quadratic_computation(periodic, space):
    torch.manual_seed(0)
    att = KernelizedRPEAttention(8, len(space), heads=2, features=6, rpe_modes=3, periodic=periodic).double()
    with torch.no_grad():
        att.rpe.normal_(0, 0.5)
    x = torch.randn(2, 8, *space, dtype=torch.float64)
    q, k, v = projected(att, x)
    phi_q, phi_k = att.features(q, k)
    fast = rpe_attention_fft(phi_q, phi_k, v, att.kernel(space, torch.float64, x.device), space, periodic)
    slow = rpe_attention_quadratic(phi_q, phi_k, v, att.dense_kernel(space), chunk=7)
    assert_close(fast, slow, rtol=1e-11, atol=1e-12)
    y = att(x)
    assert y.shape == x.shape and torch.isfinite(y).all()


def test_positive_random_features_estimate_the_softmax_kernel():
    torch.manual_seed(1)
    q, k = 0.4 * torch.randn(3, 4, dtype=torch.float64), 0.4 * torch.randn(5, 4, dtype=torch.float64)
    w = torch.randn(200_000, 4, dtype=torch.float64)
    phi_q = positive_features(q, w, stabilize_rows=False) * torch.exp(
        (q @ w.T - 0.5 * (q * q).sum(-1, keepdim=True)).amax()
    )
    phi_k = positive_features(k, w, stabilize_rows=False) * torch.exp(
        (k @ w.T - 0.5 * (k * k).sum(-1, keepdim=True)).amax()
    )
    assert_close(phi_q @ phi_k.T, torch.exp(q @ k.T), rtol=2e-2, atol=0)


def test_zero_rpe_is_plain_kernelized_attention_and_the_kernel_is_grid_free():
    torch.manual_seed(2)
    att = KernelizedRPEAttention(4, 2, heads=1, features=3, periodic=False).double()
    assert_close(att.kernel((4, 3), torch.float64, "cpu")[0, :4, :3], torch.ones(4, 3), rtol=0, atol=0)
    with torch.no_grad():
        att.rpe.normal_()
    # the same physical offset on two grids has the same weight
    coarse, fine = att.dense_kernel((4, 4)), att.dense_kernel((8, 8))
    assert_close(coarse[:, 0, 5], fine[:, 0, 2 * 8 + 2], rtol=1e-14, atol=0)


def test_exp_fit_converges_and_karat_approaches_softmax_attention():
    torch.manual_seed(3)
    s = torch.linspace(-2, 2, 101, dtype=torch.float64)
    errors = []
    for order in (2, 4, 8, 16):
        a, b = exp_fit(order, 2.0)
        approx = fourier_series(s.reshape(1, 1, -1), a[None], b[None], 2 * math.pi / 8.0)[0, 0]
        errors.append((approx - torch.exp(s)).abs().max().item())
    assert errors[-1] < 1e-8 and all(e2 < e1 / 4 for e1, e2 in itertools.pairwise(errors))

    att = FourierKArAtAttention(8, 2, heads=2, order=16, limit=6.0, landmarks=None).double()
    att.cos.data, att.sin.data = (t.repeat(2, 1) for t in exp_fit(16, 6.0))
    x = 0.3 * torch.randn(2, 8, 5, 4, dtype=torch.float64)
    q, k, v = projected(att, x)
    s = q @ k.transpose(-1, -2) * att.scale
    assert s.abs().max() < 6.0  # inside the fitted range
    assert_close(att.attend(q, k, v, (5, 4)), torch.softmax(s, -1) @ v, rtol=0, atol=1e-9)


def test_karat_landmarks_pool_keys_and_all_landmarks_is_no_pooling():
    torch.manual_seed(4)
    full = FourierKArAtAttention(4, 2, heads=2, order=3, landmarks=None).double()
    same = FourierKArAtAttention(4, 2, heads=2, order=3, landmarks=(6, 4)).double()
    same.load_state_dict(full.state_dict())
    x = torch.randn(1, 4, 6, 4, dtype=torch.float64)
    assert_close(same(x), full(x), rtol=1e-12, atol=1e-13)
    pooled = FourierKArAtAttention(4, 2, heads=2, order=3, landmarks=2).double()
    with pytest.raises(ValueError, match=r"landmarks=\(2, 2\) exceed the grid \(1, 4\)"):
        pooled(torch.randn(1, 4, 1, 4, dtype=torch.float64))


def test_attention_gradients_and_bad_arguments():
    torch.manual_seed(5)
    att = KernelizedRPEAttention(2, 1, heads=1, features=2, rpe_modes=2).double()
    x = torch.randn(1, 2, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(att, (x,))
    kar = FourierKArAtAttention(2, 1, heads=1, order=2, landmarks=3).double()
    assert torch.autograd.gradcheck(kar, (x,))
    with pytest.raises(ValueError, match=r"heads=3 must divide channels=8; valid: \[1, 2, 4, 8\]"):
        KernelizedRPEAttention(8, 2, heads=3)
    with pytest.raises(ValueError, match="rpe_modes"):
        KernelizedRPEAttention(8, 2, rpe_modes=(2, 2, 2))
