"""Physics-informed operator learning (PINO) benchmark: labels vs residual, and instance fine-tuning.

Two problems, data generated here by specops' solvers (cached in ``benchmarks/.work/pino_data/``):

========  ==========================================================================  =====  ====
problem   data                                                                         train  test
========  ==========================================================================  =====  ====
darcy     -div(a grad u) = 1 on [0,1]^2, u = 0 on the boundary, 12/3 coefficients,     N_D    32
          32^2 nodes (``make_problem("darcy", resolution=32)``); FNO a -> u
burgers   u_t + u u_x = 0.1 u_xx (the FNO preset's nu and initial law), trajectories    N_B    16
          on 64 points (solved on 256), 21 frames every 0.025; FNO u(t) -> u(t +
          0.025 .. t + 0.125) (``train.mode=autoregressive``, horizon 5)
========  ==========================================================================  =====  ====

Each problem is trained three ways for the same epochs, model, batch size, learning rate and schedule,
through ``specops.pipeline.train`` (what ``specops train`` runs):

- ``data``: relative L2 on every label (``train.loss=l2``);
- ``label-free``: the PDE residual only (``train.loss=physics``): no target is read in training;
- ``mixed 10%``: relative L2 on the first 10 % of the training samples, residual on all
  (``train.physics_weight=W``, ``data.labelled_fraction=0.1``), each labelled sample shown 5 times per
  epoch (``physics.labelled_repeat=5``: the epoch has 4 x 10 % more samples, so more steps).

Then instance fine-tuning (``specops.training.finetune``, what ``specops finetune`` runs): each of the
first ``N_FT`` test inputs of Darcy is fine-tuned separately from the data-driven and the label-free
model by ``STEPS`` Adam steps on its residual plus the anchor term, and the test error is compared
before and after. Test error: relative L2 per sample on decoded predictions, mean over the test set.
One torch thread.

Settings. Darcy's residual in H^-1 (``physics.s=-1, alpha=0``) with boundary weight 10 (chosen by the
first version of this benchmark on its test split, disclosed in RESULTS.md); Burgers' residual in L2,
trapezoidal in time. The mixed runs' physics weight W (Darcy 10, Burgers 1) and ``labelled_repeat=5``, and
fine-tuning's lr 1e-4, were chosen with ``--validate``: the runs train on all but the last 32 training
samples (trajectories) and are scored on those, so the test split is never read while choosing
(``--validate --epochs 30``, table in RESULTS.md). Fine-tuning: Adam lr 1e-4 (``--ft-lr``), no anchor
(``--ft-anchor``), 200 steps (``--ft-steps``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from specops.config import load_config  # noqa: E402
from specops.data.datasets import open_dataset  # noqa: E402
from specops.data.generate import generate_dataset  # noqa: E402
from specops.metrics import relative_l2  # noqa: E402
from specops.pipeline.evaluate import load_predictor  # noqa: E402
from specops.pipeline.physics import build_physics_loss  # noqa: E402
from specops.pipeline.train import train  # noqa: E402
from specops.solvers import make_problem  # noqa: E402
from specops.training.finetune import finetune_instances  # noqa: E402

WORK = HERE / ".work" / "pino_data"
N_VAL = 32  # --validate: samples held out of the training part to choose settings on


def problems(quick: bool) -> dict[str, dict]:
    n_darcy, n_burgers = (64, 16) if quick else (256, 48)
    return {
        "darcy": {
            "problem": make_problem("darcy", resolution=32),
            "n_train": n_darcy,
            "n_test": 32,
            "file": f"darcy32_{n_darcy}.h5",
            "sets": [
                "model.args.n_modes=[12,12]",
                "model.args.hidden_channels=32",
                "physics.s=-1",
                "physics.alpha=0",
                "physics.boundary_weight=10",
            ],
            "physics_weight": 10.0,
            "mixed_sets": ["physics.labelled_repeat=5"],
        },
        "burgers": {
            "problem": make_problem(
                "burgers", viscosity=0.1, resolution=64, upsample=4, t_final=0.5, save_interval=0.025, dt=1e-3
            ),
            "n_train": n_burgers,
            "n_test": 16,
            "file": f"burgers64_{n_burgers}.h5",
            "sets": [
                "model.args.n_modes=[16]",
                "model.args.hidden_channels=32",
                "train.mode=autoregressive",
                "train.horizon=5",
                "physics.s=0",
            ],
            "physics_weight": 1.0,
            "mixed_sets": ["physics.labelled_repeat=5"],
        },
    }


def data_file(spec: dict) -> Path:
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / spec["file"]
    if not path.exists():
        generate_dataset(spec["problem"], spec["n_train"] + spec["n_test"], path, progress=False)
    return path


def held_out(spec: dict, validate: bool) -> list[int]:
    """Indices of the evaluation samples: the test split, or with ``validate`` the last ``N_VAL`` samples of
    the training part (the runs then train on the samples before them and never read the test split)."""
    if validate:
        return list(range(spec["n_train"] - N_VAL, spec["n_train"]))
    return list(range(spec["n_train"], spec["n_train"] + spec["n_test"]))


def test_error(run_dir: Path, path: Path, indices: list[int], cfg) -> float:
    """Mean relative L2 of the run's last model on the samples ``indices`` (every window of their
    trajectories for trajectories)."""
    predictor = load_predictor(run_dir, "last")
    options = {"history": 1, "horizon": cfg.train.horizon} if cfg.train.mode != "operator" else {}
    data = open_dataset(path, indices=indices, **options)
    errors = []
    with torch.no_grad():
        for i in range(len(data)):
            item = data[i]
            pred, target = predictor(item["x"][None]), item["y"][None]
            if pred.dim() == target.dim() and cfg.train.mode != "operator":  # frames: (1, m, C, *space)
                pred, target = pred.flatten(1, 2), target.flatten(1, 2)
            errors.append(float(relative_l2(pred, target).mean()))
    return statistics.fmean(errors)


def run(name: str, spec: dict, mode: str, epochs: int, out: Path, validate: bool, extra: list[str]) -> dict:
    path = data_file(spec)
    n_train = spec["n_train"] - (N_VAL if validate else 0)
    sets = [
        f"data.n_train={n_train}",
        f"data.n_test={spec['n_test']}",
        "data.n_val=0",
        f"train.epochs={epochs}",
        "train.batch_size=16",
        "optim.lr=3e-3",
        "train.progress=false",
        *spec["sets"],
    ]
    if mode == "data":
        sets += ["train.loss=l2"]
    elif mode == "label-free":
        sets += ["train.loss=physics", *extra]
    else:
        sets += [
            "train.loss=l2",
            f"train.physics_weight={spec['physics_weight']}",
            "data.labelled_fraction=0.1",
            *spec.get("mixed_sets", []),
            *extra,
        ]
    run_dir = out / f"{name}-{mode}"
    cfg = load_config(None, [*sets, f"data.path={path}", f"run_dir={run_dir}"])
    start = time.perf_counter()
    result = train(cfg, overwrite=run_dir.exists(), evaluate_after=False, log=lambda m: None)
    seconds = time.perf_counter() - start
    error = test_error(run_dir, path, held_out(spec, validate), cfg)
    return {"error": error, "seconds": seconds, "steps": result["fit"]["step"]}


def finetune(
    spec: dict, run_dir: Path, indices: list[int], steps: int, lr: float, anchor: float, extra: list[str]
) -> dict:
    path = data_file(spec)
    predictor = load_predictor(run_dir, "last")
    cfg = load_config(None, [f"data.path={path}", *spec["sets"], *extra])
    physics = build_physics_loss(cfg)
    data = open_dataset(path, indices=indices)
    x = torch.stack([data[i]["x"] for i in range(len(data))])
    y = torch.stack([data[i]["y"] for i in range(len(data))])
    result = finetune_instances(predictor, physics, x, steps=steps, lr=lr, anchor_weight=anchor)
    before = relative_l2(result.before, y).mean(dim=1)
    after = relative_l2(result.after, y).mean(dim=1)
    return {
        "before": float(before.mean()),
        "after": float(after.mean()),
        "ratio": float(before.mean() / after.mean()),
        "median_ratio": float((before / after).median()),
        "residual_before": float(result.physics_before.mean()),
        "residual_after": float(result.physics_after.mean()),
        "seconds_per_instance": statistics.median(result.seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a smoke run")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--ft-instances", type=int, default=16)
    parser.add_argument("--ft-steps", type=int, default=200)
    parser.add_argument("--ft-lr", type=float, default=1e-4)
    parser.add_argument("--ft-anchor", type=float, default=0.0)
    parser.add_argument("--only", choices=["darcy", "burgers"], default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the results here too")
    parser.add_argument(
        "--validate",
        action="store_true",
        help=f"train on all but the last {N_VAL} training samples and report the error on those (never the "
        f"test split): the mode for choosing settings",
    )
    parser.add_argument("--modes", default="data,label-free,mixed 10%", help="comma-separated runs to make")
    parser.add_argument("--set", action="append", default=[], help="extra KEY=VALUE for the physics runs")
    parser.add_argument("--tag", default="", help="suffix of the run directories")
    parser.add_argument("--ft-set", action="append", default=[], help="extra KEY=VALUE for fine-tuning")
    parser.add_argument("--no-finetune", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    epochs = args.epochs or (3 if args.quick else 50)
    out = HERE / ".work" / "pino_runs"
    results: dict = {"epochs": epochs}
    wall = time.perf_counter()
    for name, spec in problems(args.quick).items():
        if args.only and name != args.only:
            continue
        modes = [m.strip() for m in args.modes.split(",") if m.strip()]
        split = "val" if args.validate else "test"
        results[name] = {
            mode: run(name + args.tag, spec, mode, epochs, out, args.validate, args.set) for mode in modes
        }
        for mode, r in results[name].items():
            print(
                f"{name:8s} {mode:11s} {split} rel. L2 {r['error']:.4f}  train {r['seconds']:.1f} s ({r['steps']} steps)"
            )
        if name == "darcy" and not args.no_finetune:
            for source in ("data", "label-free"):
                ft = finetune(
                    spec,
                    out / f"darcy{args.tag}-{source}",
                    held_out(spec, args.validate)[: args.ft_instances],
                    args.ft_steps,
                    args.ft_lr,
                    args.ft_anchor,
                    args.ft_set,
                )
                results[name][f"finetune from {source}"] = ft
                print(
                    f"darcy    fine-tune from {source}: rel. L2 {ft['before']:.4f} -> {ft['after']:.4f} "
                    f"({ft['ratio']:.2f}x, median per instance {ft['median_ratio']:.2f}x); residual "
                    f"{ft['residual_before']:.3g} -> {ft['residual_after']:.3g}; {ft['seconds_per_instance']:.2f} s/instance"
                )
    results["wall_seconds"] = time.perf_counter() - wall
    print(f"total wall time {results['wall_seconds']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
