import pytest
import torch

import specops
from specops.layers.joint import JointSpectralWeight, LayerWeight
from specops.layers.spectral_conv import SpectralConvSpec
from tests.helpers import assert_close

MODES = (6, 4)
FORMS = ["cp", "tucker", "tt"]


def joint(form, separable=False, **kw):
    torch.manual_seed(0)
    c = 4 if separable else 5
    return JointSpectralWeight(form, 3, c, 4 if separable else 3, MODES, rank=0.4, separable=separable, **kw)


@pytest.mark.parametrize("form", FORMS)
def test_each_layer_contracts_with_the_factors_and_equals_its_slice_of_the_dense_stack(form, monkeypatch):
    w = joint(form).double()
    views = [w(5, 3, MODES) for _ in range(3)]
    stack = w.to_dense()
    assert stack.shape == (3, 5, 3, *MODES)
    # the stack rebuilt independently from the factors by the textbook formula of each form
    assert_close(stack, reference_stack(w), atol=1e-12, rtol=0)
    x = torch.randn(2, 5, *MODES, dtype=torch.complex128)
    expected = [torch.einsum("bixy,ioxy->boxy", x, stack[layer]) for layer in range(3)]
    # the forward must contract with the factors, never rebuild a dense weight (the layer's or the stack's)
    boom = lambda *a, **k: (_ for _ in ()).throw(AssertionError("dense built"))  # noqa: E731
    monkeypatch.setattr(JointSpectralWeight, "layer_dense", boom)
    monkeypatch.setattr(JointSpectralWeight, "to_dense", boom)
    for layer, view in enumerate(views):
        assert_close(view.contract(x, None), expected[layer], atol=1e-12, rtol=0)
    sl = (slice(1, 5), slice(0, 3))
    assert_close(views[1].contract(x[:, :, 1:5, :3], sl), expected[1][:, :, 1:5, :3], atol=1e-12, rtol=0)


def reference_stack(w):
    """``W[l, i, o, x, y]`` summed term by term from the stored factors (einsum over all ranks at once)."""
    f = [torch.view_as_complex(p) for p in w.factors]
    if w.factorization == "cp":
        return torch.einsum("lr,ir,or,xr,yr->lioxy", *f)
    if w.factorization == "tucker":
        g = torch.view_as_complex(w.core)
        return torch.einsum("abcde,la,ib,oc,xd,ye->lioxy", g, *f)
    return torch.einsum("zla,aib,boc,cxd,dyz->lioxy", *f)  # the end ranks z are 1


@pytest.mark.parametrize("form", FORMS)
def test_separable_joint_weights_multiply_per_channel(form):
    w = joint(form, separable=True).double()
    view = w(4, 4, MODES)
    x = torch.randn(2, 4, *MODES, dtype=torch.complex128)
    assert_close(view.contract(x, None), x * w.to_dense()[0], atol=1e-12, rtol=0)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("rank", [0.02, 0.1, 0.5])
def test_rank_is_a_fraction_of_the_whole_dense_stack(form, rank):
    w = JointSpectralWeight(form, 4, 32, 32, (16, 9), rank=rank)
    n = sum(p.numel() for p in w.parameters())
    dense = 2 * 4 * 32 * 32 * 16 * 9
    assert 0.5 * rank * dense <= n <= 1.2 * rank * dense, (n, rank * dense)


@pytest.mark.parametrize("form", FORMS)
def test_initial_scale_matches_requested_std(form):
    torch.manual_seed(0)
    w = JointSpectralWeight(form, 4, 32, 32, (8, 5), rank=0.3, init_std=0.1)
    std = w.to_dense().abs().pow(2).mean().sqrt().item()
    assert 0.03 < std < 0.3, std


@pytest.mark.parametrize("form", FORMS)
def test_growing_one_view_grows_the_shared_tensor_with_zeros(form):
    w = joint(form)
    views = [w(5, 3, MODES) for _ in range(3)]
    old = w.to_dense().detach().clone()
    views[0].grow((8, 5))
    assert views[2].modes == (8, 5)
    new = w.to_dense().detach()
    assert_close(new[:, :, :, 1:7, :4], old, atol=1e-6, rtol=0)
    mask = torch.ones_like(new, dtype=torch.bool)
    mask[:, :, :, 1:7, :4] = False
    assert new[mask].abs().max() < 1e-12
    views[1].grow((8, 5))  # already that size: nothing changes
    assert torch.equal(w.to_dense().detach(), new)


def test_fno_with_joint_weights_holds_one_tensor_and_changes_modes_like_per_layer_weights(tmp_path):
    torch.manual_seed(0)
    spectral = {"factorization": "tucker", "rank": 0.2, "joint_factorization": True}
    model = specops.create_model("tfno", n_modes=[6, 6], hidden_channels=8, n_layers=3, spectral=spectral)
    convs = [b.conv for b in model.blocks]
    assert all(isinstance(c.weight, LayerWeight) and c.weight.joint is model.joint_weight for c in convs)
    assert [c.weight.index for c in convs] == [0, 1, 2]
    shared = {id(p) for p in model.joint_weight.parameters()}
    assert not any(id(p) in shared for c in convs for p in c.parameters(recurse=True) if p is not c.bias)
    assert sum(k.startswith("joint_weight.") for k in model.state_dict()) == len(
        list(model.joint_weight.parameters())
    )
    x = torch.randn(2, 1, 16, 16)
    y = model(x)
    model.n_modes = (8, 8)  # grows the shared tensor with zeros: the same operator
    assert model.joint_weight.modes == (8, 5)
    assert_close(model(x), y, atol=1e-6, rtol=1e-5)
    model.n_modes = (4, 4)  # a centered subset of the stored modes
    small = model(x)
    again = specops.load(specops.save(model, tmp_path / "joint.pt"))
    assert again.n_modes == (4, 4) and again.joint_weight.modes == (8, 5)
    assert torch.equal(again(x), small)
    model(x).sum().backward()  # gradients reach every factor of the shared tensor
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.joint_weight.parameters())


def test_bad_joint_options_name_the_argument():
    with pytest.raises(ValueError, match="joint_factorization=True needs a low-rank"):
        SpectralConvSpec(factorization="dense", joint_factorization=True)
    with pytest.raises(ValueError, match=r"rank=1\.5 .*\(0, 1\]"):
        SpectralConvSpec(factorization="cp", rank=1.5, joint_factorization=True)
    with pytest.raises(ValueError, match=r"rank=0\.0 .*\(0, 1\]"):
        JointSpectralWeight("cp", 2, 3, 3, (4, 3), rank=0.0)
    with pytest.raises(ValueError, match="nothing to factorize jointly"):
        specops.create_model(
            "ifno", n_modes=[4, 4], spectral={"factorization": "cp", "joint_factorization": True}
        )
    w = JointSpectralWeight("cp", 1, 3, 3, (4, 3), rank=0.5)
    with pytest.raises(ValueError, match="same shape"):
        w(3, 4, (4, 3))
    w(3, 3, (4, 3))
    with pytest.raises(ValueError, match="holds 1 layers"):
        w(3, 3, (4, 3))


def test_joint_factorization_refuses_a_mixer_without_spectral_weights():
    with pytest.raises(ValueError, match=r"joint_factorization=True.*mixer=.aff."):
        specops.FNO(
            n_modes=(4, 4),
            in_channels=1,
            out_channels=1,
            hidden_channels=8,
            n_layers=2,
            mixer="aff",
            spectral={"factorization": "tucker", "rank": 0.1, "joint_factorization": True},
        )
