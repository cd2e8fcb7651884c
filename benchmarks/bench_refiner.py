"""Spectral-Refiner on the FNO Navier-Stokes problem, scaled to a CPU: SFNO and FNO-3D trained briefly,
then the SFNO refined by the H^-1 residual; errors, residuals and wall times against the specops solver.

The protocol of Cao et al. (ICLR 2025, "FNO NSE") at CPU size: vorticity on the unit torus, nu = 1e-3, the
FNO forcing 0.1 (sin 2 pi (x + y) + cos 2 pi (x + y)), GRF initial vorticity; frames every 0.05 time units,
10 frames in, 40 out. Training data are solved on 32^2; the test trajectories are solved on 64^2 and
stored at 64^2 and at 32^2 (zero-shot super-resolution of the spatial grid: the same flows on a grid twice
as fine as the training one). Both models train
for EPOCHS epochs on the same windows. The SFNO run goes through `specops train` and `specops refine`
(pipeline.train / pipeline.refine); FNO-3D (Li et al. 2021: the 10 input frames as channels, repeated
along the output time axis, spectral convolutions over x, y, t) is trained here with the same optimizer.

The solver baseline solves each test trajectory again from its last input frame, on grids 16^2 .. 64^2 and
with time steps 1x .. 8x the data's, and reports the cheapest run at least as accurate as each model.

    PYTHONPATH=src python benchmarks/bench_refiner.py            # the sizes below, one thread
    PYTHONPATH=src python benchmarks/bench_refiner.py --quick    # a smoke test (seconds)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from specops import FNO, pipeline
from specops.cli import main as cli
from specops.config import load_config
from specops.data.datasets import TrajectoryDataset
from specops.evaluation.solver_cost import spectral_resample
from specops.losses import LpLoss
from specops.physics import residual_for_file
from specops.solvers.integrate import BlowUpError, integrate

T_IN, T_OUT, INTERVAL, SOLVER_DT = 10, 40, 0.05, 1e-3


def generate(path: Path, samples: int, resolution: int, upsample: int, seed: int) -> float:
    if path.is_file():  # --out of an earlier run: the same command made it
        return 0.0
    t0 = time.perf_counter()
    args = ["generate", "ns", "--samples", str(samples), "--resolution", str(resolution), "--out", str(path)]
    sets = [
        f"t_final={(T_IN + T_OUT - 1) * INTERVAL:.2f}",
        f"save_interval={INTERVAL}",
        f"upsample={upsample}",
    ]
    sets += [f"dt={SOLVER_DT}"]
    flags = [item for s in sets for item in ("--set", s)]
    assert cli([*args, "--seed", str(seed), "--no-progress", "--threads", "1", *flags]) == 0
    return time.perf_counter() - t0


def windows(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    ds = TrajectoryDataset(path, history=T_IN, horizon=T_OUT)
    items = [ds[i * ds.windows_per_sample] for i in range(ds.n_samples)]
    return torch.stack([it["x"] for it in items]), torch.stack([it["y"] for it in items])


def rel_l2(pred: torch.Tensor, ref: torch.Tensor) -> float:
    """Median over trajectories of ||pred - ref|| / ||ref|| over all output frames."""
    e = (pred - ref).flatten(1).norm(dim=1) / ref.flatten(1).norm(dim=1)
    return statistics.median(e.tolist())


class FNO3D(torch.nn.Module):
    """FNO-3D of the FNO paper: ``(B, T_in, 1, x, y) -> (B, T_out, 1, x, y)`` with a fixed ``T_out``."""

    def __init__(self, modes: int, width: int) -> None:
        super().__init__()
        self.net = FNO((modes, modes, modes), T_IN, 1, width, 4, domain_padding=[0.0, 0.0, 0.15])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _, nx, ny = x.shape
        v = x[:, :, 0, :, :, None].expand(b, t, nx, ny, T_OUT)  # inputs repeated along the output time
        return self.net(v).movedim(-1, 1)  # (B, 1, x, y, T_out) -> (B, T_out, 1, x, y)


def train_fno3d(x, y, epochs: int, batch: int, lr: float, width: int, modes: int) -> tuple[FNO3D, float]:
    torch.manual_seed(0)
    mean, std = x.mean(), x.std()  # a global Gaussian normalizer, as the FNO-3D of the paper
    model = FNO3D(modes, width)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * ((x.shape[0] + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    loss_fn = LpLoss(2.0)
    t0 = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(x.shape[0])
        for i in range(0, x.shape[0], batch):
            idx = order[i : i + batch]
            pred = model((x[idx] - mean) / std) * std + mean
            loss = loss_fn(pred.flatten(1, 2), y[idx].flatten(1, 2))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    model.predict = lambda z: model((z - mean) / std) * std + mean
    return model, time.perf_counter() - t0


def solver_sweep(
    path: Path, x: torch.Tensor, y: torch.Tensor, targets: dict[str, float], budget: float
) -> dict:
    """Cheapest solver run (grid, time step) whose median error is at most each target; all runs tried."""
    residual = residual_for_file(path)
    n = y.shape[-1]
    times = [INTERVAL * (j + 1) for j in range(T_OUT)]
    runs, start = [], time.perf_counter()
    for factor in (8, 4, 2, 1):
        for m in (16, 24, 32, 48, 64):
            if m > n or time.perf_counter() - start > budget:
                continue
            eq = residual.on_grid((m, m))
            u0 = spectral_resample(x[:, -1].double(), (m, m)).float()
            t0 = time.perf_counter()
            try:
                traj = integrate(eq, u0, times, stepper="crank_nicolson_rk4", dt=SOLVER_DT * factor).states
            except BlowUpError:
                continue
            seconds = (time.perf_counter() - t0) / x.shape[0]
            err = rel_l2(spectral_resample(traj.double(), (n, n)).float(), y)
            runs.append({"grid": m, "dt": SOLVER_DT * factor, "rel_l2": err, "s_per_trajectory": seconds})
    out = {"runs": runs}
    for name, target in targets.items():
        ok = [r for r in runs if r["rel_l2"] <= target]
        out[name] = min(ok, key=lambda r: r["s_per_trajectory"]) if ok else None
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--train", type=int, default=96)
    ap.add_argument("--test", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--steps", type=int, default=300, help="refinement Adam steps")
    ap.add_argument("--lr", type=float, default=1e-2, help="refinement learning rate of the source")
    ap.add_argument("--out", default=None, help="directory; data and the SFNO run found there are reused")
    args = ap.parse_args()
    if args.quick:
        args.train, args.test, args.epochs, args.steps = 8, 2, 1, 5
    torch.set_num_threads(1)
    root = Path(args.out or tempfile.mkdtemp(prefix="bench_refiner_"))
    root.mkdir(parents=True, exist_ok=True)
    wall = time.perf_counter()
    report: dict = {"sizes": vars(args), "root": str(root)}
    gen = {
        "train32": generate(root / "train32.h5", args.train + 8, 32, 1, 0),
        "test32": generate(root / "test32.h5", args.test, 32, 2, 10_000),
        "test64": generate(root / "test64.h5", args.test, 64, 1, 10_000),
    }
    report["generate_s"] = gen
    print(f"generated data in {gen} s", flush=True)

    # SFNO through the library's own job: specops train (autoregressive windows: 10 frames -> 40)
    sfno_args = "{n_modes: [12, 12], hidden_channels: 20, n_layers: 4, time_modes: 8}"
    overrides = [
        f"data.path={root / 'train32.h5'}",
        "data.n_val=8",
        "data.n_test=0",
        "model.name=sfno",
        f"model.args={sfno_args}",
        "train.mode=autoregressive",
        f"train.history={T_IN}",
        f"train.horizon={T_OUT}",
        "train.loss=l2",
        f"train.epochs={args.epochs}",
        "train.batch_size=4",
        "train.progress=false",
        "optim.name=adam",
        "optim.lr=1e-2",
        "optim.schedule=one-cycle",
        f"run_dir={root / 'sfno'}",
    ]
    t0 = time.perf_counter()
    if not (root / "sfno" / "checkpoints" / "last.pt").is_file():  # --out of an earlier run: reuse its model
        pipeline.train(load_config(None, overrides), evaluate_after=False)
    report["sfno_train_s"] = time.perf_counter() - t0
    predictor = pipeline.load_predictor(root / "sfno")
    x32, y32 = windows(root / "test32.h5")
    x64, y64 = windows(root / "test64.h5")
    with torch.no_grad():
        report["sfno_rel_l2"] = {"32": rel_l2(predictor(x32), y32), "64": rel_l2(predictor(x64), y64)}
        t0 = time.perf_counter()
        predictor(x64)
        report["sfno_s_per_trajectory_64"] = (time.perf_counter() - t0) / x64.shape[0]
    print(
        f"SFNO trained in {report['sfno_train_s']:.0f} s: {report['sfno_rel_l2']}",
        flush=True,
    )

    # FNO-3D on the same training windows
    xt, yt = windows(root / "train32.h5")
    fno3d, seconds = train_fno3d(xt[: args.train], yt[: args.train], args.epochs, 4, 3e-3, 20, 8)
    with torch.no_grad():
        report["fno3d_rel_l2"] = {
            "32": rel_l2(fno3d.predict(x32), y32),
            "64": rel_l2(fno3d.predict(x64), y64),
        }
    report["fno3d_train_s"] = seconds
    print(f"FNO-3D trained in {seconds:.0f} s: {report['fno3d_rel_l2']}", flush=True)

    # Spectral-Refiner on the fine grid (and on the training grid)
    refined = {}
    for grid in ("64", "32"):
        res = pipeline.refine(
            root / "sfno",
            root / f"test{grid}.h5",
            out=root / f"refine{grid}",
            steps=args.steps,
            lr=args.lr,
            weight_lr=args.lr / 10,
            progress=False,
            overwrite=True,
            log=lambda s: None,
        )
        refined[grid] = {k: res["median"][k] for k in res["median"]} | {"ratio": res["error_ratio"]}
        print(f"refined at {grid}^2: {refined[grid]}", flush=True)
    report["refined"] = refined

    targets = {"sfno": report["sfno_rel_l2"]["64"], "refined": refined["64"]["error_after"]}
    report["solver"] = solver_sweep(root / "test64.h5", x64, y64, targets, budget=300.0)
    report["wall_s"] = time.perf_counter() - wall
    print(json.dumps(report, indent=1))
    (root / "bench_refiner.json").write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
