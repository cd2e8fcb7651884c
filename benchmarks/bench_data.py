"""Data pipeline throughput: generation per preset, and reading through the dataset classes.

Reading: an operator file and a trajectory file are written to a temporary directory, then read for a few
epochs through ``DataLoader`` (shuffled, batch 32) with 0 and 2 workers. The baseline is the same samples
held in memory, read by the same ``DataLoader`` with 0 workers; the table gives samples/s, MB/s and the
ratio ours / in-memory (median of repeats).

Generation: every problem preset of ``specops.solvers.problems`` at its benchmark resolution, on the CPU,
end to end (``generate_dataset``: solver + checks + atomic batch files + final join) and the solver alone,
so the table shows what the file handling costs. Skipped when the solvers are not installed.

    python benchmarks/bench_data.py              # full sizes
    python benchmarks/bench_data.py --small      # seconds; checks that the script works
    python benchmarks/bench_data.py --write      # also append the tables to benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from specops.data.datasets import OperatorDataset, TrajectoryDataset
from specops.data.generate import generate_dataset
from specops.data.schema import layout_for
from specops.data.writer import ArraySource, write_dataset

HERE = Path(__file__).resolve().parent


class InMemory(Dataset):
    """The baseline: the same items from tensors already in memory."""

    def __init__(self, source: Dataset) -> None:
        self.items = [source[i] for i in range(len(source))]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.items[i]


def write_files(root: Path, n_op: int, n_traj: int, res: int, frames: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    op = root / "operator.h5"
    a, u = (rng.standard_normal((n_op, 1, res, res)).astype(np.float32) for _ in range(2))
    layout = layout_for("operator", 2)
    write_dataset(
        op,
        {"a": ArraySource(a), "u": ArraySource(u)},
        layouts={"a": layout, "u": layout},
        attrs={"kind": "operator", "input_fields": ["a"], "output_fields": ["u"], "source": "benchmark"},
    )
    traj = root / "trajectory.h5"
    w = rng.standard_normal((n_traj, frames, 1, res, res)).astype(np.float32)
    write_dataset(
        traj,
        {"w": ArraySource(w)},
        layouts={"w": layout_for("trajectory", 2)},
        attrs={"kind": "trajectory", "input_fields": ["w"], "output_fields": ["w"], "source": "benchmark"},
        coords={"t": np.arange(frames, dtype=np.float64)},
    )
    return op, traj


def read_rate(dataset: Dataset, workers: int, repeats: int, epochs: int) -> tuple[float, float]:
    """Median samples/s and MB/s over ``repeats`` runs of ``epochs`` shuffled epochs."""
    loader = DataLoader(
        dataset,
        batch_size=32,
        shuffle=True,
        num_workers=workers,
        persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(0),
    )
    item = dataset[0]
    item_bytes = sum(t.numel() * t.element_size() for t in item.values())
    rates = []
    for _ in range(repeats):
        start, count = time.perf_counter(), 0
        for _ in range(epochs):
            for batch in loader:
                count += batch["x"].shape[0]
        rates.append(count / (time.perf_counter() - start))
    rate = statistics.median(rates)
    return rate, rate * item_bytes / 2**20


def bench_read(args: argparse.Namespace) -> list[str]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        op, traj = write_files(Path(tmp), args.samples, args.trajectories, args.res, args.frames)
        cases = [
            (f"operator {args.res}^2", lambda: OperatorDataset(op)),
            (
                f"trajectory {args.res}^2, 4 -> 1 frames",
                lambda: TrajectoryDataset(traj, history=4, horizon=1),
            ),
        ]
        for name, build in cases:
            base, base_mb = read_rate(InMemory(build()), 0, args.repeats, args.epochs)
            rows.append(f"| {name} | in memory | 0 | {base:,.0f} | {base_mb:,.0f} | 1.00 |")
            for workers in (0, 2):
                rate, mb = read_rate(build(), workers, args.repeats, args.epochs)
                rows.append(
                    f"| {name} | specops HDF5 | {workers} | {rate:,.0f} | {mb:,.0f} | {rate / base:.2f} |"
                )
                print(rows[-1], flush=True)
    header = [
        "| dataset | reader | workers | samples/s | MB/s | ratio to in memory |",
        "|---|---|---|---|---|---|",
    ]
    return header + rows


def presets() -> tuple[object, list[tuple[str, dict]]] | None:
    """``(make_problem, [(name, overrides)])`` for every problem preset, or None without the solvers."""
    try:
        problems = importlib.import_module("specops.solvers.problems")
    except ModuleNotFoundError:
        return None
    registry = getattr(problems, "PROBLEMS", None)
    names = registry.names() if registry is not None else list(getattr(problems, "list_problems", list)())
    sizes = getattr(problems, "BENCHMARK_RESOLUTIONS", {})
    return problems.make_problem, [(n, {"resolution": sizes[n]} if n in sizes else {}) for n in names]


def bench_generate(args: argparse.Namespace) -> list[str]:
    found = presets()
    if found is None:
        print("generation: skipped, specops.solvers.problems is not installed yet")
        return ["generation: skipped (specops.solvers.problems not installed)"]
    make_problem, cases = found
    rows = [
        "| preset | resolution | samples | solver only (samples/s) | generate_dataset (samples/s) | ratio |"
    ]
    rows.append("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, overrides in cases:
            if args.small:
                overrides = {**overrides, "resolution": args.res}
            problem = make_problem(name, **overrides)
            n = args.gen_samples
            seeds = list(range(n))
            estimate = problem.estimate_seconds_per_sample(args.batch_size)
            if estimate * n * args.repeats > args.budget:
                # Hours of solving (the FNO Navier-Stokes presets: 5e5 steps per sample at 256^2): the
                # solver's throughput is estimated (long evolutions extrapolated from short solves) and the
                # file pipeline is not run.
                res = overrides.get("resolution", problem.metadata().get("resolution", "default"))
                rows.append(
                    f"| {name} | {res} | {args.batch_size} | {1 / estimate:,.4f} (estimated) | – | – |"
                )
                print(rows[-1], flush=True)
                continue
            solver = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                for lo in range(0, n, args.batch_size):
                    problem.generate(seeds[lo : lo + args.batch_size])
                solver.append(n / (time.perf_counter() - start))
            full = []
            for r in range(args.repeats):
                start = time.perf_counter()
                generate_dataset(
                    problem, n, Path(tmp) / f"{name}-{r}.h5", batch_size=args.batch_size, progress=False
                )
                full.append(n / (time.perf_counter() - start))
            s, f = statistics.median(solver), statistics.median(full)
            res = overrides.get("resolution", problem.metadata().get("resolution", "default"))
            rows.append(f"| {name} | {res} | {n} | {s:,.2f} | {f:,.2f} | {f / s:.2f} |")
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", action="store_true", help="tiny sizes: checks the script, numbers mean little")
    p.add_argument("--write", action="store_true", help="append the tables to benchmarks/RESULTS.md")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--skip-generate", action="store_true")
    p.add_argument(
        "--budget", type=float, default=120.0, help="seconds a preset may take; longer ones are extrapolated"
    )
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    big = not args.small
    args.samples, args.trajectories = (1024, 64) if big else (64, 4)
    args.res, args.frames = (64, 50) if big else (16, 8)
    args.repeats, args.epochs = (3, 2) if big else (2, 1)
    args.gen_samples, args.batch_size = (64, 16) if big else (4, 2)
    tables = [
        "",
        f"## Data pipeline ({datetime.date.today()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, {args.threads} torch threads{', --small' if args.small else ''})",
        "",
    ]
    tables += ["Read throughput (bench_data.py):", "", *bench_read(args), ""]
    if not args.skip_generate:
        tables += ["Generation throughput on CPU (bench_data.py):", "", *bench_generate(args), ""]
    text = "\n".join(tables)
    print(text)
    if args.write:
        with open(HERE / "RESULTS.md", "a") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
