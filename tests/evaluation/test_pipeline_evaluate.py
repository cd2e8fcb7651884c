"""`specops evaluate` on generated files: test sets by name, real domains, eval.resolutions, rollout_steps."""

from __future__ import annotations

import json
import math

import pytest
import torch

from specops import metrics, pipeline
from specops.config import ConfigError, load_config
from specops.data.datasets import OperatorDataset
from specops.data.generate import generate_dataset
from specops.evaluation import predict
from specops.solvers.problems import make_problem
from tests.data.problems import HeatProblem


def _quiet(message: str) -> None:
    del message


def _train(root, data, *settings) -> str:
    cfg = load_config(
        None,
        [
            f"data.path={data}",
            "data.n_val=0",
            "model.name=fno",
            "model.args.hidden_channels=8",
            "train.max_steps=2",
            "train.batch_size=4",
            "train.progress=false",
            f"run_dir={root / 'run'}",
            *settings,
        ],
    )
    pipeline.train(cfg, evaluate_after=False, log=_quiet)
    return str(root / "run")


@pytest.fixture(scope="module")
def darcy(tmp_path_factory):
    root = tmp_path_factory.mktemp("darcy")
    problem, overrides = make_problem("darcy", resolution=9, upsample=1), {"resolution": 9, "upsample": 1}
    train = generate_dataset(problem, 16, root / "d9.h5", progress=False, attrs={"overrides": overrides})
    other = generate_dataset(
        problem, 4, root / "other9.h5", seed=500, progress=False, attrs={"overrides": overrides}
    )
    run = _train(root, train, "data.n_test=4", "model.args.n_modes=[4,4]", "eval.resolutions=[17]")
    return run, train, other


def test_test_sets_on_one_grid_are_named_apart_and_regenerated_grids_added(darcy):
    run, train, other = darcy
    op = pipeline.evaluate(run, [train, other, other], plots=False, log=_quiet)["operator"]
    assert op["test_sets"] == ["d9@9x9", "other9@9x9", "other9@9x9#2", "d9-regenerated@17x17"]
    assert op["grids"]["other9@9x9"] == "9x9" and op["grids"]["d9-regenerated@17x17"] == "17x17"
    assert op["n_samples"] == {name: 4 for name in op["test_sets"]}
    errors = op["rel_l2"]["u"]
    assert errors["other9@9x9"] == errors["other9@9x9#2"] != errors["d9@9x9"]
    assert all(math.isfinite(v) for v in errors.values())
    for name in op["test_sets"]:
        timing = op["timing"][name]
        assert timing["solver_s_per_sample"] > 0 and timing["solver_equal_accuracy"]["n_samples"] == 4
        assert op["lengths"][name] == [1.0, 1.0]


def test_relative_h1_of_ks_data_uses_its_32_pi_domain(tmp_path):
    ks = make_problem("ks", resolution=32, t_final=1.0, save_interval=None, dt=0.05)
    path = generate_dataset(ks, 12, tmp_path / "ks.h5", progress=False)
    run = _train(tmp_path, path, "data.n_test=4", "model.args.n_modes=[8]")
    op = pipeline.evaluate(run, plots=False, log=_quiet)["operator"]
    assert op["lengths"] == {"ks@32": [32 * math.pi]}
    truth, pred = predict(pipeline.load_predictor(run), OperatorDataset(path, indices=range(8, 12)))
    on_domain = metrics.relative_h1(pred, truth, lengths=32 * math.pi).mean().item()
    unit = metrics.relative_h1(pred, truth).mean().item()
    assert math.isclose(op["rel_h1"]["u"]["ks@32"], on_domain, rel_tol=1e-6)
    assert abs(unit - on_domain) > 1e-3 * on_domain


def test_rollout_steps_set_the_rollout_length(tmp_path):
    traj = generate_dataset(
        HeatProblem(resolution=8, n_times=8, T=0.2), 8, tmp_path / "traj.h5", progress=False
    )
    run = _train(
        tmp_path,
        traj,
        "data.n_test=2",
        "train.mode=autoregressive",
        "model.args.n_modes=[4,4]",
        "eval.rollout_steps=3",
    )
    ro = pipeline.evaluate(run, plots=False, log=_quiet)["rollout"]
    assert ro["n_steps"] == 3 and len(ro["times"]) == 3 and len(ro["rel_l2_vs_time"]["u"]) == 3
    assert torch.isfinite(torch.tensor(ro["rel_l2_vs_time"]["u"])).all()
    # evaluate can change eval settings without retraining (and only those)
    from specops.cli import main

    assert (
        main(
            [
                "evaluate",
                run,
                "--no-plots",
                "--set",
                "eval.rollout_steps=2",
                "--json",
                str(tmp_path / "r.json"),
            ]
        )
        == 0
    )
    assert len(json.loads((tmp_path / "r.json").read_text())["rollout"]["times"]) == 2
    with pytest.raises(ConfigError, match=r"evaluate changes eval\.\* settings only"):
        pipeline.evaluate(run, plots=False, overrides=["train.epochs=3"], log=_quiet)
