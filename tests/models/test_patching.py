import pytest
import torch
from torch import nn

import specops
from specops import MultigridPatching
from specops.models.patching import patch_cores
from tests.helpers import assert_close


class Pointwise(nn.Module):
    """A 1x1 map of the first ``keep`` channels (the level-0 view): no spatial coupling at all."""

    def __init__(self, in_channels, out_channels, dim, keep=None):
        super().__init__()
        self.in_channels, self.out_channels, self.dim = in_channels, out_channels, dim
        self.keep = in_channels if keep is None else keep
        self.linear = nn.Linear(self.keep, out_channels).double()

    def forward(self, x):
        return torch.tanh(self.linear(x[:, : self.keep].movedim(1, -1))).movedim(-1, 1)


def fno(dim, in_channels, **kw):
    torch.manual_seed(0)
    return specops.create_model(
        "fno", n_modes=[4] * dim, hidden_channels=6, n_layers=2, in_channels=in_channels, **kw
    )


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_one_patch_without_levels_is_the_model_itself(dim):
    model = fno(dim, 1)
    x = torch.randn(2, 1, *([8] * dim))
    wrapped = MultigridPatching(model, patches=1, levels=0, padding=0.0)
    assert torch.equal(wrapped(x), model(x))


@pytest.mark.parametrize("dim,patches", [(1, [4]), (2, [2, 4]), (3, [2, 1, 2])])
@pytest.mark.parametrize("periodic", [True, False])
def test_a_pointwise_model_stitched_equals_the_unpatched_result_exactly(dim, patches, periodic):
    torch.manual_seed(1)
    x = torch.randn(2, 3, *([16 if dim < 3 else 8] * dim), dtype=torch.float64)
    inner = Pointwise(3 * 3, 2, dim, keep=3)  # 2 levels: reads only the full-resolution patch
    wrapped = MultigridPatching(inner, patches=patches, levels=2, padding=0.25, periodic=periodic)
    assert torch.equal(wrapped(x), inner(torch.cat([x] * 3, dim=1)))


@pytest.mark.parametrize("periodic", [True, False])
def test_coarse_views_equal_an_independent_downsampling_of_the_shifted_field(periodic):
    torch.manual_seed(2)
    n, p, levels, padding = 16, 2, 2, 0.125
    x = torch.randn(1, 2, n, n, dtype=torch.float64)
    wrapped = MultigridPatching(
        Pointwise(6, 1, 2), patches=p, levels=levels, padding=padding, periodic=periodic
    )
    views = wrapped.views(x)
    s, q = n // p, round(padding * n)
    size = s + 2 * q
    assert views.shape == (p * p, 2 * (levels + 1), size, size)
    big = 2**levels * size * 2  # a zero-padded copy wide enough for every view
    padded = torch.zeros(1, 2, n + 2 * big, n + 2 * big, dtype=torch.float64)
    padded[..., big : big + n, big : big + n] = x
    for j1 in range(p):
        for j2 in range(p):
            for level in range(levels + 1):
                step = 2**level
                start = [j * s + s // 2 - step * (size // 2) for j in (j1, j2)]
                if periodic:  # shift the field so the view starts at index 0, then keep every step-th point
                    field = torch.roll(x, shifts=(-start[0], -start[1]), dims=(2, 3))
                    field = field.repeat(1, 1, 2**levels * 2, 2**levels * 2)  # periodic images
                    expected = field[..., ::step, ::step][..., :size, :size]
                else:
                    a, b = start[0] + big, start[1] + big
                    expected = padded[..., a : a + step * size : step, b : b + step * size : step]
                got = views[j1 * p + j2, 2 * level : 2 * level + 2]
                assert torch.equal(got, expected[0]), (j1, j2, level)


def test_gradients_flow_to_every_patch_and_sequential_patches_give_the_same_gradients():
    torch.manual_seed(3)
    x = torch.randn(2, 1, 16, 16, requires_grad=True)
    grads = []
    for sequential in (False, True):
        wrapped = MultigridPatching(fno(2, 3), patches=2, levels=2, padding=0.125, sequential=sequential)
        x.grad = None
        wrapped(x).square().sum().backward()
        g = x.grad.clone()
        for j1 in range(2):
            for j2 in range(2):
                assert g[..., 8 * j1 : 8 * j1 + 8, 8 * j2 : 8 * j2 + 8].abs().sum() > 0
        params = [p.grad for p in wrapped.parameters()]
        assert all(p is not None and p.abs().sum() > 0 for p in params)
        grads.append((g, params))
    assert_close(grads[1][0], grads[0][0], atol=1e-6, rtol=1e-4)
    for a, b in zip(grads[1][1], grads[0][1]):
        assert_close(a, b, atol=1e-6, rtol=1e-4)


def test_saved_and_loaded_with_its_inner_model(tmp_path):
    spectral = {"factorization": "cp", "rank": 0.3, "joint_factorization": True}
    wrapped = MultigridPatching(
        fno(2, 2, spectral=spectral), patches=[2, 1], levels=1, padding=0.1, periodic=False
    )
    x = torch.randn(2, 1, 16, 12)
    again = specops.load(specops.save(wrapped, tmp_path / "mg.pt"))
    assert isinstance(again, MultigridPatching) and again.patches == (2, 1) and not again.periodic
    assert torch.equal(again(x), wrapped(x))


def test_bad_patching_names_the_argument_and_what_works():
    with pytest.raises(ValueError, match=r"patches=3 on axis 0 does not divide the grid size 16.*15 or 18"):
        MultigridPatching(fno(2, 1), patches=3)(torch.randn(1, 1, 16, 16))
    with pytest.raises(ValueError, match=r"levels=3 strides 8 points.*use levels <= 2"):
        MultigridPatching(fno(2, 4), patches=4, levels=3)(torch.randn(1, 1, 16, 16))
    with pytest.raises(ValueError, match=r"in_channels=2, which is not \(levels \+ 1\) x C for levels=2"):
        MultigridPatching(fno(2, 2), patches=2, levels=2)
    with pytest.raises(ValueError, match=r"padding=1\.5"):
        MultigridPatching(fno(2, 1), padding=1.5)
    with pytest.raises(ValueError, match=r"levels=-1"):
        MultigridPatching(fno(2, 1), levels=-1)
    with pytest.raises(ValueError, match=r"patches=\[2, 2, 2\] must have 2 entries"):
        MultigridPatching(fno(2, 1), patches=[2, 2, 2])


def test_an_inner_model_that_cannot_be_rebuilt_is_named_when_saving(tmp_path):
    wrapped = MultigridPatching(Pointwise(1, 1, 1), patches=2)
    with pytest.raises(
        TypeError, match=r"(?s)MultigridPatching\.model=Pointwise.*cannot be saved.*must be registered"
    ):
        specops.save(wrapped, tmp_path / "x.pt")


@pytest.mark.parametrize("dim,patches", [(1, [4]), (2, [2, 4]), (3, [2, 1, 2])])
@pytest.mark.parametrize("periodic", [True, False])
def test_one_patch_per_sample_equals_that_patch_of_the_batch_and_of_the_stitched_output(
    dim, patches, periodic
):
    torch.manual_seed(4)
    n = 16 if dim < 3 else 8
    x = torch.randn(3, 2, *([n] * dim), dtype=torch.float64)
    wrapped = MultigridPatching(
        fno(dim, 6).double(), patches=patches, levels=2, padding=0.25, periodic=periodic
    )
    positions = torch.tensor([1, 0, wrapped.n_patches - 1])
    every = wrapped.views(x).unflatten(0, (wrapped.n_patches, 3))  # (patch, sample, ...)
    assert torch.equal(wrapped.views_at(x, positions), every[positions, torch.arange(3)])
    # the model on those patches, overlap cropped, is the stitched output's block at each position
    stitched = wrapped(x)
    got = wrapped(x, positions=positions)
    s = [n // p for p in patches]
    for b, j in enumerate(positions.tolist()):
        block = []
        for p in reversed(patches):  # C order: the last axis varies fastest
            block.append(j % p)
            j //= p
        block = block[::-1]
        region = tuple(slice(k * size, (k + 1) * size) for k, size in zip(block, s))
        assert_close(got[b], stitched[(b, slice(None), *region)], rtol=1e-12, atol=1e-12, what=f"sample {b}")
        assert torch.equal(patch_cores(stitched, patches, positions)[b], stitched[(b, slice(None), *region)])


def test_patch_positions_out_of_range_or_of_the_wrong_shape_are_refused():
    wrapped = MultigridPatching(fno(2, 1), patches=2)
    x = torch.randn(2, 1, 8, 8)
    with pytest.raises(ValueError, match=r"positions must lie in \[0, 4\).*\[0, 4\]"):
        wrapped(x, positions=torch.tensor([0, 4]))
    with pytest.raises(ValueError, match=r"one integer patch index per sample, shape \(2,\)"):
        wrapped(x, positions=torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"divisible by the patch counts \[3, 3\]"):
        patch_cores(x, [3, 3], torch.tensor([0, 1]))
