"""Evaluation results against exact references: exact and known-error models, a travelling wave."""

from __future__ import annotations

import json
import math

import pytest
import torch

from specops import metrics
from specops.evaluation import evaluate_operator, evaluate_rollout, run_evaluation
from specops.models import Predictor
from specops.spectral.grid import meshgrid
from tests.evaluation.conftest import HeatModel
from tests.helpers import assert_close
from tests.training.conftest import PairDataset, Standardize, heat, smooth_fields


def _sets():
    fine = smooth_fields(6, (32, 32), seed=4, channels=2).double()
    coarse = fine[..., ::2, ::2]
    return {"coarse": PairDataset(coarse, heat(coarse)), "fine": (fine, heat(fine))}


def test_exact_and_scaled_models_give_exact_errors():
    sets = _sets()
    exact = evaluate_operator(HeatModel(), sets, field_names=["a", "b"], train_resolution=(16, 16))
    assert exact["test_sets"] == ["coarse", "fine"] and exact["train_resolution"] == "16x16"
    assert exact["grids"] == {"coarse": "16x16", "fine": "32x32"}
    for field in ("a", "b"):
        for res in ("coarse", "fine"):
            assert exact["rel_l2"][field][res] < 1e-12 and exact["vrmse"][field][res] < 1e-12
    eps = 0.03
    scaled, preds = evaluate_operator(
        HeatModel(eps=eps),
        sets,
        field_names=["a", "b"],
        solver_time=lambda shape: 0.5,
        return_predictions=True,
    )
    for field in ("a", "b"):
        for res in ("coarse", "fine"):
            # e = eps * u: every relative error is eps
            assert math.isclose(scaled["rel_l2"][field][res], eps, rel_tol=1e-9)
            assert math.isclose(scaled["rel_h1"][field][res], eps, rel_tol=1e-9)
            assert math.isclose(scaled["nrmse"][field][res], eps, rel_tol=1e-9)
    for res, sets in preds.items():
        truth = sets["truth"]
        # e = eps * u: the band errors are eps times the truth's share of each band
        share = metrics.band_errors(torch.zeros_like(truth), truth)
        for c, field in enumerate(("a", "b")):
            for band, value in scaled["band_errors"][field][res].items():
                assert math.isclose(value, eps * share[band][:, c].mean().item(), rel_tol=1e-9, abs_tol=1e-14)
    truth = preds["fine"]["truth"]
    expected_max = (eps * truth.abs().flatten(2).amax(-1)).mean(0)
    assert_close(torch.tensor(list(scaled["max_error"]["a"].values()))[1], expected_max[0], rtol=1e-9)
    assert math.isclose(scaled["spectrum_error"]["coarse"], (1 + eps) ** 2 - 1, rel_tol=1e-9)
    timing = scaled["timing"]["fine"]
    assert timing["solver_s_per_sample"] == 0.5
    assert math.isclose(timing["speedup"], 0.5 / timing["model_s_per_sample"])
    json.dumps(scaled, allow_nan=False)  # JSON-able as it is


def test_a_predictor_encodes_inputs_and_decodes_predictions():
    sets = _sets()
    xn, yn = Standardize(0.3, 2.5).double(), Standardize(-1.0, 4.0).double()

    def encoded_model(x):  # what a model trained on encoded data computes
        return yn.encode(heat(xn.decode(x)))

    class Wrapped(torch.nn.Module):
        def forward(self, x):
            return encoded_model(x)

    result = evaluate_operator(Predictor(Wrapped(), xn, yn), sets)
    assert max(result["rel_l2"]["c0"].values()) < 1e-12
    without = evaluate_operator(Wrapped(), sets)  # forgetting the normalizers is visible
    assert min(without["rel_l2"]["c0"].values()) > 0.1


def _travelling_wave(n_t: int, speed: float):
    x, _ = meshgrid((16, 16), dtype=torch.float64)
    times = torch.linspace(0, 1, n_t, dtype=torch.float64)
    frames = torch.stack([torch.cos(2 * math.pi * (x - speed * t)) for t in times])
    return frames[None, :, None], times  # (1, T, 1, 16, 16)


class Still(torch.nn.Module):
    def forward(self, x):
        return x


def test_rollout_correlation_time_of_a_travelling_wave():
    # the model keeps the first state; the truth moves: corr(t) = cos(2 pi c t), below 0.8 at acos(0.8)/(2 pi c)
    speed = 0.25
    traj, times = _travelling_wave(41, speed)
    result = evaluate_rollout(Still(), traj, history=1, times=times)
    expected = math.acos(0.8) / (2 * math.pi * speed)
    dt = float(times[1] - times[0])
    assert abs(result["correlation_time"]["mean"] - expected) < dt**2 * 2 * math.pi * speed / 4.8
    corr = torch.tensor(result["correlation_vs_time"])
    assert_close(corr, torch.cos(2 * math.pi * speed * times[1:]), rtol=1e-9, atol=1e-12)
    # rel. L2 between cos(a) and cos(a - phi) is 2 |sin(phi / 2)|
    rel = torch.tensor(result["rel_l2_vs_time"]["u"])
    assert_close(rel, 2 * torch.sin(math.pi * speed * times[1:]).abs(), rtol=1e-9, atol=1e-12)
    assert result["correlation_time"]["fraction_above_at_horizon"] == 0.0
    stays = evaluate_rollout(Still(), _travelling_wave(5, 0.0)[0], history=1)
    assert stays["correlation_time"]["fraction_above_at_horizon"] == 1.0
    assert stays["correlation_time"]["mean"] == stays["correlation_time"]["horizon"] == 4.0
    with pytest.raises(ValueError, match="more than history=5 states"):
        evaluate_rollout(Still(), traj[:, :5], history=5)


def test_run_evaluation_writes_results_figures_and_report(tmp_path):
    sets = _sets()
    traj, times = _travelling_wave(9, 0.25)
    results = run_evaluation(
        HeatModel(eps=0.01),
        tmp_path,
        datasets=sets,
        train_resolution=(16, 16),
        field_names=["a", "b"],
        solver_time=0.2,
        timing_repeats=2,
    )
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["operator"]["rel_l2"] == results["operator"]["rel_l2"]
    report = (tmp_path / "report.md").read_text()
    assert "coarse (16x16, training grid)" in report and "fine (32x32, zero-shot)" in report
    assert "speed-up" in report
    pngs = sorted(p.name for p in (tmp_path / "figures").glob("*.png"))
    assert "spectrum_fine.png" in pngs and "fields_coarse_a_0.png" in pngs
    for name in pngs:
        assert (tmp_path / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"figures/{name}" in report
    rollout_dir = tmp_path / "rollout"
    results = run_evaluation(Still(), rollout_dir, trajectories=traj, times=times)
    assert "rollout" in results and (rollout_dir / "figures" / "rollout_correlation.png").exists()
    assert "Time until the correlation" in (rollout_dir / "report.md").read_text()


class AddWave(torch.nn.Module):
    """Adds ``delta sin(2 pi k x / L)`` to a 1D field on ``[0, L)``: a known error with a known gradient."""

    def __init__(self, delta: float, k: int, length: float) -> None:
        super().__init__()
        self.delta, self.k, self.length = delta, k, length

    def forward(self, x):
        grid = torch.arange(x.shape[-1], dtype=x.dtype) * self.length / x.shape[-1]
        return x + self.delta * torch.sin(2 * math.pi * self.k * grid / self.length)


def test_relative_h1_is_measured_on_the_domain_of_the_data():
    # u = sin(2 pi 3 x / L) on the KS domain L = 32 pi, e = delta sin(2 pi 10 x / L):
    # ||e||_H1 / ||u||_H1 = delta sqrt((1 + (20 pi / L)^2) / (1 + (6 pi / L)^2))
    length, delta, n = 32 * math.pi, 0.01, 64
    grid = torch.arange(n, dtype=torch.float64) * length / n
    u = torch.sin(2 * math.pi * 3 * grid / length).reshape(1, 1, n).repeat(2, 1, 1)
    model = AddWave(delta, 10, length)
    exact = delta * math.sqrt((1 + (20 * math.pi / length) ** 2) / (1 + (6 * math.pi / length) ** 2))
    on_domain = evaluate_operator(model, {"ks": (u, u)}, lengths=length, timing_repeats=1)
    assert math.isclose(on_domain["rel_h1"]["u"]["ks"], exact, rel_tol=1e-9)
    assert on_domain["lengths"] == {"ks": [length]}
    per_set = evaluate_operator(model, {"ks": (u, u)}, lengths={"ks": [length]}, timing_repeats=1)
    assert per_set["rel_h1"] == on_domain["rel_h1"]
    unit = delta * math.sqrt((1 + (20 * math.pi) ** 2) / (1 + (6 * math.pi) ** 2))  # what a unit domain gives
    assert abs(unit - exact) > 0.5 * exact
    assert math.isclose(evaluate_operator(model, {"ks": (u, u)}, timing_repeats=1)["rel_h1"]["u"]["ks"], unit)
    with pytest.raises(ValueError, match="no entry for test set 'ks'"):
        evaluate_operator(model, {"ks": (u, u)}, lengths={"other": 1.0})


def test_test_sets_on_the_same_grid_keep_their_own_results():
    x = smooth_fields(3, (16, 16), seed=2).double()
    sets = {"clean@16x16": (x, x), "scaled@16x16": (x, 1.25 * x)}
    result = evaluate_operator(Still(), sets, solver_time={"clean@16x16": 0.1, "scaled@16x16": None})
    assert result["test_sets"] == ["clean@16x16", "scaled@16x16"]
    assert result["grids"] == {"clean@16x16": "16x16", "scaled@16x16": "16x16"}
    assert result["rel_l2"]["u"]["clean@16x16"] == 0.0
    assert math.isclose(result["rel_l2"]["u"]["scaled@16x16"], 0.2, rel_tol=1e-12)  # |x - 1.25x| / |1.25x|
    assert result["timing"]["clean@16x16"]["solver_s_per_sample"] == 0.1
    assert result["timing"]["scaled@16x16"]["speedup"] is None


def test_rollout_steps_limit_the_horizon():
    speed = 0.25
    traj, times = _travelling_wave(41, speed)
    result = evaluate_rollout(Still(), traj, history=1, n_steps=10, times=times)
    assert result["n_steps"] == 10 and result["times"] == times[1:11].tolist()
    assert result["initial_time"] == float(times[0])
    rel = torch.tensor(result["rel_l2_vs_time"]["u"])
    assert_close(rel, 2 * torch.sin(math.pi * speed * times[1:11]).abs(), rtol=1e-9, atol=1e-12)
    assert result["correlation_time"]["horizon"] == float(times[10])
    assert evaluate_rollout(Still(), traj, history=1)["n_steps"] == 40  # default: to the end
    with pytest.raises(ValueError, match=r"n_steps=41 rollout steps .* use 1 to 40"):
        evaluate_rollout(Still(), traj, history=1, n_steps=41)
