"""Training benchmark: the specops Trainer against neuraloperator 2.0.0's Trainer on small Darcy flow (CPU).

Same data, same model size (FNO, n_modes (8, 8), hidden 32, 340,833 real parameters), same epochs, batch
and optimizer as neuraloperator's small-Darcy example (AdamW lr 8e-3, weight decay 1e-4, cosine schedule,
batch 32, 1000 training samples at 16^2, 20 epochs). Three runs per seed:

- ``neuralop``: its Trainer, its example recipe (H1 training loss, periodic finite differences; output
  standardised; CosineAnnealingLR(T_max=30) stepped per epoch);
- ``specops-h1``: our Trainer with the same kind of objective (relative H1 by finite differences), both
  fields standardised, cosine schedule per step;
- ``specops-l2``: our Trainer training on the relative L2 error, the test metric.

Reported: seconds per epoch (training only, data loading included) and the relative L2 test error at 16^2
and, zero-shot, at 32^2, computed here with the same code on decoded predictions. Each (run, seed) runs in
a fresh process with the same thread count; medians over seeds.

Data: -div(a grad u) = 1 on the unit square, u = 0 on the boundary, a = 12 where a Gaussian random field
N(0, (-Laplacian + 9)^-2) is positive and 3 elsewhere (the FNO paper's Darcy problem), solved by a
second-order finite-volume scheme (harmonic face coefficients) on 65^2 nodes; the 32^2 and 16^2 sets
are every 2nd / 4th node (the [0, 1) part of the grid). Generated here and cached in benchmarks/.work/.

Setup (once; never touches the project's torch)::

    python benchmarks/bench_train.py --setup
    benchmarks/.work/venv/bin/python benchmarks/bench_train.py            # full run, 3 seeds
    benchmarks/.work/venv/bin/python benchmarks/bench_train.py --quick    # a smoke run in ~1 minute

``--only specops-h1`` or ``--only specops-l2`` runs without neuraloperator.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
VENV = WORK / "venv"
PEER = ["neuraloperator==2.0.0", "tensorly==0.10.0", "tensorly-torch==0.5.0", "opt-einsum"]
FINE = 65  # nodes per side, boundary included
RUNS = {"specops-h1": "h1-fd", "specops-l2": "l2"}  # our runs: name -> training loss


# --- data ---------------------------------------------------------------------------------------------
def solve_darcy(a: np.ndarray, f: float = 1.0) -> np.ndarray:
    """``-div(a grad u) = f`` on the unit square, ``u = 0`` on the boundary, on the node grid of ``a``."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    n = a.shape[0]
    h = 1.0 / (n - 1)
    m = n - 2  # interior nodes per side
    idx = np.arange(m * m).reshape(m, m)

    def face(b, c):
        return 2 * b * c / (b + c)

    inner = a[1:-1, 1:-1]
    east, west = face(inner, a[2:, 1:-1]), face(inner, a[:-2, 1:-1])
    north, south = face(inner, a[1:-1, 2:]), face(inner, a[1:-1, :-2])
    diag = (east + west + north + south).ravel()
    rows, cols, vals = [idx.ravel()], [idx.ravel()], [diag]
    for coef, shift in ((east, (1, 0)), (west, (-1, 0)), (north, (0, 1)), (south, (0, -1))):
        i, j = np.meshgrid(np.arange(m), np.arange(m), indexing="ij")
        ii, jj = i + shift[0], j + shift[1]
        ok = (ii >= 0) & (ii < m) & (jj >= 0) & (jj < m)
        rows.append(idx[i[ok], j[ok]])
        cols.append(idx[ii[ok], jj[ok]])
        vals.append(-coef[ok])
    mat = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(m * m, m * m)
    )
    u = np.zeros_like(a)
    u[1:-1, 1:-1] = spla.spsolve(mat, np.full(m * m, f * h * h)).reshape(m, m)
    return u


def darcy_samples(seeds: range) -> tuple[torch.Tensor, torch.Tensor]:
    """Coefficients and solutions on the 65^2 node grid, one per seed."""
    from specops.solvers.random_fields import GaussianRandomField

    grf = GaussianRandomField((FINE - 1, FINE - 1), alpha=2.0, tau=3.0)
    field = grf.sample(list(seeds)).double().numpy()
    field = np.concatenate([field, field[:, :1]], axis=1)  # periodic field on the closed node grid
    field = np.concatenate([field, field[:, :, :1]], axis=2)
    a = np.where(field >= 0, 12.0, 3.0)
    u = np.stack([solve_darcy(ai) for ai in a])
    return torch.from_numpy(a).float(), torch.from_numpy(u).float()


def load_data(n_train: int, n_test: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Train at 16^2, test at 16^2 and 32^2 (the same test problems), cached on disk."""
    path = WORK / f"darcy_{n_train}_{n_test}.pt"
    if path.exists():
        return torch.load(path, weights_only=True)
    start = time.perf_counter()
    a, u = darcy_samples(range(n_train + n_test))
    sets = {}
    for name, sl, step in (
        ("train16", slice(0, n_train), 4),
        ("test16", slice(n_train, None), 4),
        ("test32", slice(n_train, None), 2),
    ):
        sets[name] = (
            a[sl, : FINE - 1 : step, : FINE - 1 : step, None].movedim(-1, 1).contiguous(),
            u[sl, : FINE - 1 : step, : FINE - 1 : step, None].movedim(-1, 1).contiguous(),
        )
    WORK.mkdir(parents=True, exist_ok=True)
    torch.save(sets, path)
    print(f"generated {n_train + n_test} Darcy problems in {time.perf_counter() - start:.1f} s -> {path}")
    return sets


# --- the two trainers -----------------------------------------------------------------------------------
def rel_l2(pred: torch.Tensor, y: torch.Tensor) -> float:
    from specops.metrics import relative_l2

    return float(relative_l2(pred, y).mean())


def _real_numel(model: torch.nn.Module) -> int:
    """Real numbers in the parameters (a complex entry counts twice, as neuraloperator counts it)."""
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())


def run_specops(data, epochs: int, seed: int, loss: str = "h1-fd") -> dict:
    """Our Trainer: both fields standardised, per-step cosine schedule, ``loss`` from specops' registry
    (``h1-fd``: relative H1 by finite differences, the peer's objective; ``l2``: relative L2)."""
    from specops import FNO
    from specops.config import OptimConfig, TrainConfig
    from specops.training import Trainer, build_loss, scheduler_factory

    class Gaussian(torch.nn.Module):  # per-channel standardisation, the data layer's normalizer contract
        def __init__(self, t):
            super().__init__()
            dims = [0, *range(2, t.dim())]
            self.register_buffer("mean", t.mean(dims, keepdim=True)[0])
            self.register_buffer("std", t.std(dims, keepdim=True)[0] + 1e-7)

        def encode(self, x):
            return (x - self.mean) / self.std

        def decode(self, x):
            return x * self.std + self.mean

    x, y = data["train16"]
    torch.manual_seed(seed)
    model = FNO((8, 8), 1, 1, hidden_channels=32, projection_channel_ratio=2)
    optim = OptimConfig(name="adamw", lr=8e-3, weight_decay=1e-4, schedule="cosine", warmup_steps=0)
    opt = torch.optim.AdamW(model.parameters(), lr=optim.lr, weight_decay=optim.weight_decay)
    train = torch.utils.data.TensorDataset(x, y)
    trainer = Trainer(
        model,
        build_loss(loss),
        opt,
        scheduler_factory(optim),
        x_normalizer=Gaussian(x),
        y_normalizer=Gaussian(y),
        options=TrainConfig(epochs=epochs, batch_size=32, progress=False, seed=seed, device="cpu"),
    )
    start = time.perf_counter()
    trainer.fit(train)
    elapsed = time.perf_counter() - start
    out = {"n_parameters": _real_numel(model), "epoch_s": elapsed / epochs}
    for key in ("test16", "test32"):
        xt, yt = data[key]
        out[key] = rel_l2(trainer.predict(xt), yt)
    return out


def run_neuralop(data, epochs: int, seed: int) -> dict:
    """neuraloperator's small-Darcy example: output standardised, per-epoch CosineAnnealingLR(T_max=30),
    its H1 loss (periodic finite differences)."""
    import warnings

    warnings.filterwarnings("ignore", message=".*received unexpected keyword arguments.*")
    from neuralop import H1Loss, LpLoss, Trainer
    from neuralop.data.transforms.data_processors import DefaultDataProcessor
    from neuralop.data.transforms.normalizers import UnitGaussianNormalizer
    from neuralop.models import FNO

    x, y = data["train16"]
    torch.manual_seed(seed)
    model = FNO(n_modes=(8, 8), in_channels=1, out_channels=1, hidden_channels=32, projection_channel_ratio=2)
    out_norm = UnitGaussianNormalizer(dim=[0, 2, 3])
    out_norm.fit(y)
    processor = DefaultDataProcessor(in_normalizer=None, out_normalizer=out_norm)
    loader = torch.utils.data.DataLoader(
        [{"x": a, "y": b} for a, b in zip(x, y)],
        batch_size=32,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    opt = torch.optim.AdamW(model.parameters(), lr=8e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=30)
    trainer = Trainer(
        model=model,
        n_epochs=epochs,
        device="cpu",
        data_processor=processor,
        eval_interval=epochs + 1,
        use_distributed=False,
        verbose=False,
    )
    start = time.perf_counter()
    trainer.train(
        train_loader=loader,
        test_loaders={},
        optimizer=opt,
        scheduler=sched,
        regularizer=False,
        training_loss=H1Loss(d=2),
        eval_losses={"l2": LpLoss(d=2, p=2)},
    )
    elapsed = time.perf_counter() - start
    out = {"n_parameters": _real_numel(model), "epoch_s": elapsed / epochs}
    model.eval()
    processor.eval()
    with torch.no_grad():
        for key in ("test16", "test32"):
            xt, yt = data[key]
            out[key] = rel_l2(out_norm.inverse_transform(model(xt)), yt)
    return out


# --- driver ---------------------------------------------------------------------------------------------
def setup() -> None:
    """Create benchmarks/.work/venv seeing the project's packages, and install the peer without deps."""
    import site
    import venv

    venv.EnvBuilder(system_site_packages=True, with_pip=True).create(VENV)
    site_dir = next((VENV / "lib").glob("python*/site-packages"))
    project_sites = [p for p in site.getsitepackages() if "site-packages" in p]
    (site_dir / "specops-project.pth").write_text(
        "".join(f"import site; site.addsitedir({p!r})\n" for p in project_sites)
    )
    subprocess.run(
        [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps", *PEER], check=True
    )
    print(
        f"ready: {VENV / 'bin' / 'python'} {Path(__file__).relative_to(Path.cwd()) if Path(__file__).is_relative_to(Path.cwd()) else __file__}"
    )


def one_run(lib: str, args) -> dict:
    """Run one (library, seed) in a fresh process with the benchmark's thread count."""
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    cmd = [
        sys.executable,
        __file__,
        "--child",
        lib,
        "--seed",
        str(args.seed_now),
        "--epochs",
        str(args.epochs),
        "--n-train",
        str(args.n_train),
        "--n-test",
        str(args.n_test),
        "--threads",
        str(args.threads),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(f"{lib} run failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def markdown_table(summary: dict[str, dict[str, float]], args) -> str:
    """The medians as a markdown table for benchmarks/RESULTS.md."""
    lines = [
        f"\n### Training, small Darcy flow: {args.n_train} samples at 16^2, {args.epochs} epochs, FNO 340,833 "
        f"parameters, CPU {args.threads} thread(s), torch {torch.__version__} ({time.strftime('%Y-%m-%d')})\n",
        f"Medians over seeds {args.seeds}; rel. L2 on {args.n_test} test problems; 32^2 is zero-shot.\n",
        "| run | s/epoch | rel. L2 16^2 | rel. L2 32^2 | time ratio | error ratio 16^2 | error ratio 32^2 |",
        "|---|---|---|---|---|---|---|",
    ]
    theirs = summary.get("neuralop")
    for lib, med in summary.items():
        ratios = (
            [f"{med[k] / theirs[k]:.3f}" for k in ("epoch_s", "test16", "test32")] if theirs else ["–"] * 3
        )
        lines.append(
            f"| {lib} | {med['epoch_s']:.3f} | {med['test16']:.4f} | {med['test32']:.4f} | "
            + " | ".join(ratios)
            + " |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--setup", action="store_true", help="create benchmarks/.work/venv with neuraloperator"
    )
    parser.add_argument(
        "--quick", action="store_true", help="200 samples, 3 epochs, 1 seed: check that it runs"
    )
    parser.add_argument("--only", choices=["neuralop", *RUNS], default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--n-test", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="append the table to benchmarks/RESULTS.md")
    parser.add_argument("--child", choices=["neuralop", *RUNS], help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup:
        setup()
        return
    if args.quick:
        args.n_train, args.n_test, args.epochs, args.seeds = 200, 50, 3, args.seeds[:1]
    torch.set_num_threads(args.threads)
    data = load_data(args.n_train, args.n_test)
    if args.child:
        if args.child == "neuralop":
            result = run_neuralop(data, args.epochs, args.seed)
        else:
            result = run_specops(data, args.epochs, args.seed, loss=RUNS[args.child])
        print(json.dumps(result))
        return
    libs = [args.only] if args.only else ["neuralop", *RUNS]
    results: dict[str, list[dict]] = {lib: [] for lib in libs}
    for i, seed in enumerate(args.seeds):
        args.seed_now = seed
        for lib in libs if i % 2 == 0 else libs[::-1]:  # alternate the order against drift
            r = one_run(lib, args)
            results[lib].append(r)
            print(
                f"{lib:10s} seed {seed}: {r['epoch_s']:.3f} s/epoch, rel. L2 16^2 {r['test16']:.4f}, "
                f"32^2 {r['test32']:.4f} ({r['n_parameters']:,} parameters)",
                flush=True,
            )
    summary = {
        lib: {k: statistics.median(r[k] for r in rs) for k in ("epoch_s", "test16", "test32")}
        for lib, rs in results.items()
    }
    print(
        f"\nmedians over seeds {args.seeds}, {args.n_train} samples, {args.epochs} epochs, {args.threads} threads:"
    )
    print(f"{'':10s} {'s/epoch':>8s} {'L2 16^2':>8s} {'L2 32^2':>8s}")
    for lib, med in summary.items():
        print(f"{lib:10s} {med['epoch_s']:8.3f} {med['test16']:8.4f} {med['test32']:8.4f}")
    if "neuralop" in summary:
        theirs = summary["neuralop"]
        for lib in (lib for lib in RUNS if lib in summary):
            ratios = ", ".join(
                f"{k} {summary[lib][k] / theirs[k]:.3f}" for k in ("epoch_s", "test16", "test32")
            )
            print(f"ratio {lib} / neuralop: {ratios}")
    if args.write:
        with open(HERE / "RESULTS.md", "a") as fh:
            fh.write(markdown_table(summary, args) + "\n")
    out = WORK / "bench_train.json"
    out.write_text(
        json.dumps(
            {
                "args": {k: v for k, v in vars(args).items() if k != "child"},
                "torch": torch.__version__,
                "results": results,
                "medians": summary,
            },
            indent=2,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
