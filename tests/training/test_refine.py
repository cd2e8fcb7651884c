"""Spectral-Refiner: a corrupted prediction of an exact solution is refined to the scheme's accuracy; the
refined layer starts as the trained one; what cannot be refined says so."""

from __future__ import annotations

import math

import pytest
import torch

from specops import FNO
from specops.models.sfno import SFNO
from specops.physics import DarcyResidual, EvolutionResidual
from specops.solvers.burgers import Burgers
from specops.solvers.navier_stokes import NavierStokes2D
from specops.solvers.reference import taylor_green_vorticity
from specops.spectral.grid import meshgrid
from specops.training.refine import Refiner

N, T_IN, M, DT, NU = 16, 6, 6, 0.01, 0.01


def taylor_green_frames() -> torch.Tensor:
    x, y = meshgrid((N, N), 1.0, dtype=torch.float64)
    frames = [taylor_green_vorticity(x, y, j * DT, NU) for j in range(T_IN + M)]
    return torch.stack(frames)[None, :, None]  # (1, T_in + M, 1, N, N)


def high_modes(shape, amplitude: float) -> torch.Tensor:
    """Random frames with only modes max(|kx|, |ky|) >= 4, of total L2 norm ``amplitude``."""
    torch.manual_seed(0)
    noise = torch.fft.fftn(torch.randn(*shape, dtype=torch.float64), dim=(-2, -1))
    k = torch.fft.fftfreq(N, 1 / N).abs()
    noise = torch.fft.ifftn(noise * (k[:, None].maximum(k[None, :]) >= 4), dim=(-2, -1)).real
    return amplitude * noise / noise.norm()


def sfno_predicting(inputs: torch.Tensor, frames: torch.Tensor) -> SFNO:
    """An SFNO with every mode whose output is ``frames`` exactly: its output layer's weights are zero and
    its spectral source is the transform of ``frames - last input`` placed on the padded time axis."""
    torch.manual_seed(0)
    model = SFNO([N, N], T_IN, M, hidden_channels=4, n_layers=1, time_modes=2 * (T_IN + 1)).double()
    length = M + 1 + T_IN + 1  # output steps + 1, after the padding of the latent T_in + 1 steps
    seq = torch.zeros(1, N, N, length, dtype=torch.float64)
    seq[..., -M:] = (frames - inputs[:, -1:])[0, :, 0].movedim(0, -1)
    coefficients = torch.fft.fftshift(torch.fft.rfftn(seq, dim=(-3, -2, -1), norm="forward"), dim=(-3, -2))
    layer = model.out_conv
    with torch.no_grad():
        for p in layer.parameters():
            p.zero_()
        layer.source.copy_(torch.view_as_real(coefficients / layer.source_scale))
    return model


def test_a_corrupted_high_mode_prediction_of_taylor_green_is_refined_by_orders_of_magnitude():
    frames = taylor_green_frames()
    inputs, exact = frames[:, :T_IN], frames[:, T_IN:]
    model = sfno_predicting(inputs, exact + high_modes(exact.shape, 1e-2 * exact.norm().item()))
    trained = {k: v.clone() for k, v in model.state_dict().items()}
    residual = EvolutionResidual(NavierStokes2D(N, viscosity=NU, forcing=None), DT)
    out = Refiner(model, residual, steps=100, lr=1e-4, weight_lr=1e-5).refine(inputs, exact)
    assert math.isclose(out.error_before.item(), 1e-2, rel_tol=1e-9)  # the corruption, nothing else
    # measured 1e-2 -> 4.8e-6 (residual 1.6e-2 -> 2.9e-5); the Crank-Nicolson trajectory the residual's
    # minimiser converges to is 1.8e-7 from the exact decay at this frame interval
    assert out.error_after.item() < 3e-5
    assert out.residual_after.item() < 1e-2 * out.residual_before.item()
    assert out.history[0]["error"][0] == out.error_before.item() and len(out.history[0]["error"]) == 101
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in trained.items())  # the model is not touched


def test_the_refined_layer_keeps_every_mode_and_starts_as_the_trained_one():
    torch.manual_seed(0)
    model = SFNO([6], 3, 5, hidden_channels=4, n_layers=2, time_modes=4).double()
    with torch.no_grad():
        model.out_conv.source.normal_()
    x = torch.randn(2, 3, 1, 24, dtype=torch.float64)
    residual = EvolutionResidual(Burgers(24, viscosity=0.05, length=1.0), dt=0.01)
    refiner = Refiner(model, residual, steps=2)
    latent, _ = refiner.model.latent(x)
    layer = refiner.full_layer(latent)
    assert layer.n_modes == (24, 2 * 4) and layer.source.shape == (1, 24, 5, 2)  # (3 + 1) steps, padded
    out = refiner.refine(x)
    assert torch.allclose(out.before, model(x), atol=1e-13, rtol=0)
    assert [h["residual"][0] for h in out.history] == pytest.approx(out.residual_before.tolist(), rel=1e-12)
    assert out.after.shape == (2, 5, 1, 24) and out.error_before is None
    single = Refiner(model, residual, steps=1, dtype=torch.float32).refine(x.float())
    assert single.after.dtype == torch.float32 and torch.allclose(
        single.before.double(), out.before, atol=1e-5
    )


def test_what_cannot_be_refined_is_named():
    burgers = EvolutionResidual(Burgers(16, viscosity=0.05), dt=0.01)
    with pytest.raises(ValueError, match=r"'fno' has no space-time spectral last layer.*sfno-2d-ns"):
        Refiner(FNO((4,), 1, 1, 4, 1), burgers)
    model = SFNO([4], 2, 2, hidden_channels=4, n_layers=1)
    with pytest.raises(ValueError, match="Darcy flow has no time axis"):
        Refiner(model, DarcyResidual(1.0))
    with pytest.raises(ValueError, match="equation is 2D but the model is 1D"):
        Refiner(model, EvolutionResidual(NavierStokes2D(8, viscosity=1e-3), dt=0.1))
    with pytest.raises(ValueError, match="steps=0"):
        Refiner(model, burgers, steps=0)
    with pytest.raises(ValueError, match=r"lr=-1.0 must be a positive number"):
        Refiner(model, burgers, lr=-1.0)
    with pytest.raises(ValueError, match=r"refinement needs trajectories \(batch, time, channel, 1 spatial"):
        Refiner(model, burgers).refine(torch.randn(2, 2, 16))


def test_the_residual_norm_tells_an_exact_burgers_solution_from_a_perturbed_one():
    """The loss refinement minimises: O(dt^2) on the Cole-Hopf solution, O(1) relative for a perturbed one."""
    from specops.solvers.reference import burgers_cole_hopf

    n, nu = 64, 0.05
    x = torch.arange(n, dtype=torch.float64) / n
    residual = EvolutionResidual(Burgers(n, viscosity=nu), dt=0.01)

    def norm(frames):
        return residual.norm(residual(frames), s=-1.0, alpha=0.1).item()

    def frames(dt):  # over [0, 0.1]
        return torch.stack([burgers_cole_hopf(x, j * dt, nu) for j in range(round(0.1 / dt) + 1)])[
            None, :, None
        ]

    exact = frames(0.01)
    wiggle = 1e-2 * torch.sin(2 * math.pi * 9 * x) * torch.linspace(0, 1, 11, dtype=torch.float64)[:, None]
    perturbed = exact + wiggle[None, :, None]
    residual_half = EvolutionResidual(Burgers(n, viscosity=nu), dt=0.005)
    half = residual_half.norm(residual_half(frames(0.005)), s=-1.0, alpha=0.1).item()
    assert 3.5 < norm(exact) / half < 4.5  # second order in the frame interval (measured 4.0)
    assert norm(perturbed) > 30 * norm(exact)  # a 1% wiggle: measured 71x the exact residual
