"""Normalizers: statistics against torch references, streaming, constant channels, checkpoint round trip."""

from __future__ import annotations

import io

import pytest
import torch

from specops.data.normalization import (
    GaussianNormalizer,
    IdentityNormalizer,
    MinMaxNormalizer,
    fit_normalizers,
    make_normalizer,
    normalizer_from_state,
)
from tests.helpers import assert_close


def _data(seed=0, shape=(20, 3, 8, 8)):
    g = torch.Generator().manual_seed(seed)
    scale = torch.tensor([1.0, 10.0, 0.01]).reshape(1, 3, 1, 1)
    shift = torch.tensor([0.0, -5.0, 100.0]).reshape(1, 3, 1, 1)
    return (torch.randn(shape, generator=g, dtype=torch.float64) * scale + shift).float()


def test_gaussian_matches_torch_statistics_and_inverts():
    x = _data().double()  # float64 so that the identities hold to round-off, not to float32 resolution
    norm = make_normalizer("gaussian", 3, 2).fit(x)
    ref = x.double().transpose(0, 1).reshape(3, -1)
    assert_close(norm.mean, ref.mean(1), rtol=1e-12, what="mean")
    assert_close(norm.std, ref.std(1, correction=0), rtol=1e-10, what="std")
    z = norm.encode(x)
    per_channel = z.double().transpose(0, 1).reshape(3, -1)
    assert_close(per_channel.mean(1), torch.zeros(3, dtype=torch.float64), atol=1e-5, what="encoded mean")
    assert_close(
        per_channel.std(1, correction=0), torch.ones(3, dtype=torch.float64), rtol=1e-5, what="encoded std"
    )
    assert_close(norm.decode(z), x, rtol=1e-5, atol=1e-4, what="decode(encode(x))")


def test_streamed_fit_equals_one_shot_fit():
    x = _data(1, (31, 3, 8, 8))
    for kind in ("gaussian", "minmax"):
        whole = make_normalizer(kind, 3, 2).fit(x)
        streamed = make_normalizer(kind, 3, 2).fit(iter([x[:1], x[1:10], x[10:]]))
        for name, buf in whole.named_buffers():
            assert_close(
                dict(streamed.named_buffers())[name], buf, rtol=1e-12, atol=1e-12, what=f"{kind} {name}"
            )


def test_channel_axis_is_before_the_spatial_axes():
    traj = _data(2, (4, 5, 3, 8, 8))  # (N, T, C, *space)
    norm = GaussianNormalizer(3, 2).fit(traj)
    flat = GaussianNormalizer(3, 2).fit(traj.reshape(20, 3, 8, 8))
    assert_close(norm.mean, flat.mean, rtol=1e-12, what="mean")
    one = norm.encode(traj[0, 0])  # (C, *space)
    assert_close(one, norm.encode(traj)[0, 0], rtol=1e-6, what="unbatched encode")
    with pytest.raises(ValueError, match=r"expects 3 channels.*\(2, 8, 8\)"):
        norm.encode(torch.zeros(2, 8, 8))


def test_constant_channel_stays_finite():
    x = _data()
    x[:, 1] = 4.0
    for kind in ("gaussian", "minmax"):
        norm = make_normalizer(kind, 3, 2).fit(x)
        z = norm.encode(x + 0.5)
        assert torch.isfinite(z).all(), kind
        # Scale 1 for the constant channel: its code is the offset from the training value, 4.5 - 4.
        assert_close(z[:, 1], torch.full_like(z[:, 1], 0.5), what=f"{kind} constant")
        assert_close(norm.decode(norm.encode(x)), x, rtol=1e-5, atol=1e-4, what=f"{kind} round trip")


def test_minmax_maps_the_training_range_onto_unit_interval():
    x = _data()
    z = MinMaxNormalizer(3, 2).fit(x).encode(x)
    flat = z.transpose(0, 1).reshape(3, -1)
    assert_close(flat.min(1).values, torch.zeros(3), atol=1e-6, what="min")
    assert_close(flat.max(1).values, torch.ones(3), atol=1e-6, what="max")


def test_identity_and_unfitted():
    x = _data()
    assert torch.equal(IdentityNormalizer(3, 2).encode(x), x)
    with pytest.raises(RuntimeError, match="fit"):
        GaussianNormalizer(3, 2).encode(x)
    with pytest.raises(ValueError, match="unknown normalizer 'zscore'"):
        make_normalizer("zscore", 3, 2)


def test_state_round_trip_through_a_checkpoint():
    x = _data()
    for kind in ("gaussian", "minmax", "none"):
        norm = make_normalizer(kind, 3, 2).fit(x)
        buffer = io.BytesIO()
        torch.save(norm.state_dict(), buffer)
        buffer.seek(0)
        rebuilt = normalizer_from_state(torch.load(buffer, weights_only=True))
        assert type(rebuilt) is type(norm)
        assert torch.equal(rebuilt.encode(x), norm.encode(x))
    with pytest.raises(ValueError, match="_extra_state"):
        normalizer_from_state({"mean": torch.zeros(3)})


def test_fit_normalizers_streams_a_dataset():
    x, y = _data(3, (10, 3, 8, 8)), _data(4, (10, 3, 8, 8))[:, :2]

    class Pairs:
        in_channels, out_channels, ndim = 3, 2, 2

        def __len__(self):
            return 10

        def __getitem__(self, i):
            return {"x": x[i], "y": y[i]}

    xn, yn = fit_normalizers(Pairs(), "gaussian", batch_size=3)
    assert_close(xn.mean, GaussianNormalizer(3, 2).fit(x).mean, rtol=1e-12, what="x mean")
    assert_close(yn.std, GaussianNormalizer(2, 2).fit(y).std, rtol=1e-10, what="y std")


def test_normalizer_moves_with_to():
    norm = GaussianNormalizer(3, 2).fit(_data())
    half = norm.to(torch.float32)
    assert half.mean.dtype == torch.float32
    assert "mean" in norm.state_dict() and "_extra_state" in norm.state_dict()
