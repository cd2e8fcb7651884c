"""Offline vs online training at equal wall time (Melissa, Meyer et al. ICML 2023: FNO 16 % better online).

Problem: 1D viscous Burgers ``u0 -> u(t_final)`` (``burgers`` preset, nu = 0.01), GRF initial states, stored
at 64 points (solved on 128). Model: FNO 1D, 16 modes, width 32, 4 layers, batch 16, AdamW lr 3e-3 with the
default cosine schedule, H1 loss.

- offline: ``specops generate`` of ``N`` samples (seeds 0..N-1), then ``specops train`` for ``E`` epochs;
  its training wall time ``T`` (generation not counted) sets the budget;
- online: ``specops train --online burgers`` with 2 solver worker processes (1 thread each), a reservoir
  buffer, the same number of optimizer steps and schedule (or ``--online-steps``), stopped at ``T`` seconds
  of training (``--max-time``; the watermark fill counts) if it has not finished by then.

Both are tested on the same 256 samples from seeds far outside both training ranges (relative L2, physical
units, last checkpoint). Reported: test error (median of repeats), distinct samples seen, generator
throughput vs trainer consumption, and the fraction of steps on which the trainer waited for samples.

    PYTHONPATH=src python benchmarks/bench_online.py [--repeats 3] [--samples 512] [--epochs 100]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from specops import pipeline
from specops.config import load_config
from specops.data.generate import generate_dataset
from specops.data.workers import pair_fields
from specops.metrics import relative_l2
from specops.solvers.problems import make_problem

PROBLEM = {"resolution": 64, "upsample": 2, "t_final": 1.0, "save_interval": None, "dt": 2e-3}
TEST_SEED = 10**12
COMMON = [
    "model.name=fno",
    "model.args.n_modes=[16]",
    "model.args.hidden_channels=32",
    "model.args.n_layers=4",
    "optim.lr=3e-3",
    "train.batch_size=16",
    "train.progress=false",
    "train.log_every=50",
]


def _test_error(run_dir: Path, x: torch.Tensor, y: torch.Tensor) -> float:
    predictor = pipeline.load_predictor(run_dir, "last")
    with torch.no_grad():
        return float(relative_l2(predictor(x), y).mean())


def offline(root: Path, n: int, epochs: int, seed: int, test) -> dict:
    data = root / f"train-{seed}.h5"
    start = time.perf_counter()
    generate_dataset(make_problem("burgers", **PROBLEM), n, data, seed=0, batch_size=16, progress=False)
    generation = time.perf_counter() - start
    cfg = load_config(
        None,
        [
            *COMMON,
            f"data.path={data}",
            "data.n_test=0",
            f"train.epochs={epochs}",
            f"train.seed={seed}",
            f"run_dir={root / f'offline-{seed}'}",
            f"train.eval_every={epochs}",
        ],
    )
    out = pipeline.train(cfg, evaluate_after=False, log=lambda m: None)
    return {
        "test_rel_l2": _test_error(root / f"offline-{seed}", *test),
        "train_seconds": out["fit"]["train_seconds"],
        "steps": out["fit"]["step"],
        "generation_seconds": generation,
        "distinct_samples": n,
    }


def online(root: Path, steps: int, seconds: float, seed: int, test, workers: int) -> dict:
    overrides = [f"online.problem_args.{k}={'null' if v is None else v}" for k, v in PROBLEM.items()]
    cfg = load_config(
        None,
        [
            *COMMON,
            *overrides,
            "online.problem=burgers",
            f"online.workers={workers}",
            "online.threads=1",
            "online.buffer_size=1024",
            "online.watermark=128",
            "online.policy=reservoir",
            "online.n_val=64",
            f"online.steps_per_epoch={steps}",
            "train.epochs=1",
            f"online.max_time={seconds}",
            f"train.seed={seed}",
            f"online.seed={seed * 10**7}",
            f"run_dir={root / f'online-{seed}'}",
        ],
    )
    out = pipeline.train(cfg, evaluate_after=False, log=lambda m: None)
    stream = out["stream"]
    return {
        "test_rel_l2": _test_error(root / f"online-{seed}", *test),
        "train_seconds": out["fit"]["train_seconds"],
        "steps": out["fit"]["step"],
        "distinct_samples": stream["distinct_samples_seen"],
        "received": stream["samples_received"],
        "generated_per_s": stream["generated_per_s"],
        "consumed_per_s": stream["consumed_per_s"],
        "wait_fraction": stream["wait_fraction"],
        "mean_times_seen": stream["mean_times_seen"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--online-steps",
        type=int,
        default=None,
        help="schedule length of the online run (default: the offline run's steps); on a shared CPU the "
        "online trainer takes fewer steps in the same time, and a shorter schedule anneals within it",
    )
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the trainer: one core; each solver worker: one thread
    problem = make_problem("burgers", **PROBLEM)
    test = pair_fields(problem, problem.generate(list(range(TEST_SEED, TEST_SEED + 256))))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for seed in range(args.repeats):
            off = offline(root, args.samples, args.epochs, seed, test)
            steps = args.online_steps or off["steps"]
            on = online(root, steps, off["train_seconds"], seed, test, args.workers)
            rows.append({"offline": off, "online": on})
            print(json.dumps(rows[-1]), flush=True)
    med = {
        k: {m: statistics.median(r[k][m] for r in rows) for m in rows[0][k]} for k in ("offline", "online")
    }
    gain = 1 - med["online"]["test_rel_l2"] / med["offline"]["test_rel_l2"]
    print("\n| run | test rel. L2 | train s | steps | distinct samples | gen/s | consumed/s | waited |")
    print("|---|---|---|---|---|---|---|---|")
    o, n = med["offline"], med["online"]
    print(
        f"| offline N={args.samples}, E={args.epochs} | {o['test_rel_l2']:.4f} | {o['train_seconds']:.1f} | "
        f"{o['steps']:.0f} | {o['distinct_samples']:.0f} | (gen {o['generation_seconds']:.1f} s) | | |"
    )
    print(
        f"| online, {args.workers} workers | {n['test_rel_l2']:.4f} | {n['train_seconds']:.1f} | {n['steps']:.0f} | "
        f"{n['distinct_samples']:.0f} | {n['generated_per_s']:.0f} | {n['consumed_per_s']:.0f} | "
        f"{100 * n['wait_fraction']:.1f} % |"
    )
    print(
        f"\nonline error lower by {100 * gain:.1f} % (target >= 15 %); waited on {100 * n['wait_fraction']:.1f} % "
        f"of steps (target < 5 %)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "median": med, "gain": gain}, indent=2))


if __name__ == "__main__":
    main()
