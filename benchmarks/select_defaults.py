"""Choosing ``specops train``'s learning rate and schedule by measurement.

Every candidate trains specops' default model (everything else at its default) on the three problems of
``bench_train.py`` (Darcy 16^2, Burgers 1D at 128 points, Navier-Stokes w0 -> w(5) at 16^2; 1000 training
samples each, the same files), for 20 and 100 epochs, from the same initial weights per seed, and is
scored by the relative L2 error on the test file (decoded predictions, the same function as
bench_train.py). Candidates ("auto" is the learning-rate range test's suggestion,
``specops.training.lr_finder``: 0.3 times the centre of the floor of the loss curve):

- ``cosine 1e-3``: cosine decay from lr 1e-3 (the default before this study);
- ``cosine 8e-3``: cosine decay from 8e-3 (neuraloperator's example learning rate);
- ``cosine auto``: cosine decay from the suggestion (the default after this study);
- ``cosine auto/3``, ``cosine auto*3``: from a third of / three times the suggestion: is the rule's
  factor near the best one?
- ``one-cycle auto``: one-cycle (cosine warm-up over 30%, then cosine decay) peaking at the suggestion;
- ``cosine auto wd 1e-1``: AdamW weight decay 0.1 instead of 1e-4;
- ``cosine auto h1``: the relative H1 loss (neuraloperator's example trains on H1): does it explain the
  peer's lower error on Darcy at 100 epochs (bench_train.py)?

A first round (same script before the rule was final; table in RESULTS.md) compared one-cycle with cosine
and three weight decays; this one checks the final rule. Each run is a fresh process with one torch
thread (``--jobs`` of them at once); results are appended to ``benchmarks/.work/select/results.jsonl``
and a rerun skips the runs already there. With the project's Python (no peer needed)::

    PYTHONPATH=src python benchmarks/select_defaults.py --jobs 2            # everything (hours on 2 cores)
    PYTHONPATH=src python benchmarks/select_defaults.py --table --write     # the table into RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_train  # noqa: E402  (problems, data files, test error)

OUT = bench_train.WORK / "select"
RESULTS = OUT / "results.jsonl"
# name -> (schedule, lr, other overrides): lr is a number or ("auto", k), k times the suggestion
CANDIDATES = {
    "cosine 1e-3": ("cosine", 1e-3, []),
    "cosine 8e-3": ("cosine", 8e-3, []),
    "cosine auto": ("cosine", ("auto", 1.0), []),
    "cosine auto/3": ("cosine", ("auto", 1 / 3), []),
    "cosine auto*3": ("cosine", ("auto", 3.0), []),
    "one-cycle auto": ("one-cycle", ("auto", 1.0), []),
    "cosine auto wd 1e-1": ("cosine", ("auto", 1.0), ["optim.weight_decay=1e-1"]),
    "cosine auto h1": ("cosine", ("auto", 1.0), ["train.loss=h1"]),
}


def child(problem: str, candidate: str, epochs: int, seed: int) -> dict:
    """One training run in this process (``specops.pipeline.train``); returns its record."""
    import dataclasses

    import torch

    from specops import pipeline
    from specops.config import load_config
    from specops.pipeline.lr import find_lr

    spec = bench_train.PROBLEMS[problem]
    train, test = bench_train.problem_files(problem, spec.n_train, spec.n_test)
    schedule, lr, extra = CANDIDATES[candidate]
    run_dir = OUT / "runs" / f"{problem}_{candidate.replace(' ', '_').replace('/', 'd')}_e{epochs}_s{seed}"
    cfg = load_config(
        None,
        [
            f"data.path={train}",
            f"data.test_paths=[{test}]",
            f"train.epochs={epochs}",
            f"train.seed={seed}",
            "train.progress=false",
            f"optim.schedule={schedule}",
            f"run_dir={run_dir}",
            *extra,
        ],
    )
    auto = None
    if isinstance(lr, tuple):  # a multiple of the suggestion, from the same initial weights as the run
        data = pipeline.load_run_data(cfg)
        torch.manual_seed(seed)
        adapted, model, _ = pipeline.build_model(cfg, data.train)
        auto = find_lr(
            adapted,
            model,
            data.train,
            x_normalizer=data.x_normalizer,
            y_normalizer=data.y_normalizer,
        )
        lr = lr[1] * auto.suggestion
    cfg = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, lr=lr))
    torch.manual_seed(seed)  # the model's initial weights (a fresh `specops train` process draws them too)
    start = time.perf_counter()
    out = pipeline.train(cfg, overwrite=True, evaluate_after=False, log=lambda msg: None)
    seconds = time.perf_counter() - start
    predictor, used = pipeline.load_run(run_dir, "last")
    x, y = bench_train.read_pairs(test)
    with torch.no_grad():
        pred = torch.cat([predictor(xb) for xb in x.split(64)])
    return {
        "problem": problem,
        "candidate": candidate,
        "epochs": epochs,
        "seed": seed,
        "test": bench_train.test_error(pred, y),
        "train_loss": out["fit"]["train_loss"],
        "lr": used.optim.lr,
        "auto_suggestion": auto.suggestion if auto is not None else None,
        "seconds": seconds,
    }


def _key(r: dict) -> tuple:
    return (r["problem"], r["candidate"], r["epochs"], r["seed"])


def load_results() -> list[dict]:
    if not RESULTS.exists():
        return []
    return [json.loads(line) for line in RESULTS.read_text().splitlines() if line.strip()]


def run_all(args) -> None:
    """Every missing (problem, candidate, epochs, seed) run, ``args.jobs`` processes at a time."""
    for problem in args.problems:  # data first, in this process
        spec = bench_train.PROBLEMS[problem]
        bench_train.problem_files(problem, spec.n_train, spec.n_test)
    done = {_key(r) for r in load_results()}
    todo = [
        (p, c, e, s)
        for e in args.epochs
        for s in args.seeds
        for p in args.problems
        for c in args.candidates
        if (p, c, e, s) not in done
    ]
    print(f"{len(todo)} runs to do ({len(done)} done)", flush=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(bench_train.SRC)}

    def one(job):
        p, c, e, s = job
        cmd = [sys.executable, __file__, "--child", p, c, str(e), str(s)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.returncode:
            print(f"FAILED {job}:\n{proc.stderr[-2000:]}", flush=True)
            return
        record = json.loads(proc.stdout.strip().splitlines()[-1])
        with open(RESULTS, "a") as fh:
            fh.write(json.dumps(record) + "\n")
        print(
            f"{p:8s} {c:17s} {e:4d} epochs seed {s}: rel. L2 {record['test']:.4f} (lr {record['lr']:.2e}, "
            f"{record['seconds']:.0f} s)",
            flush=True,
        )

    OUT.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(one, todo))


def table(args) -> str:
    """Median test error over seeds per problem, epochs and candidate, with the best in bold."""
    results = [
        r for r in load_results() if r["problem"] in args.problems and r["candidate"] in args.candidates
    ]
    cols = [(p, e) for p in args.problems for e in args.epochs]
    head = "| candidate | " + " | ".join(f"{p} {e} ep." for p, e in cols) + " | mean ratio to best |"
    lines = [head, "|---" * (len(cols) + 2) + "|"]
    med: dict[tuple, float] = {}
    seeds: set[int] = set()
    for p, e in cols:
        for c in args.candidates:
            runs = [r["test"] for r in results if (r["problem"], r["candidate"], r["epochs"]) == (p, c, e)]
            seeds |= {r["seed"] for r in results if (r["problem"], r["candidate"], r["epochs"]) == (p, c, e)}
            if runs:
                med[(p, e, c)] = statistics.median(runs)
    for c in args.candidates:
        cells, ratios = [], []
        for p, e in cols:
            if (p, e, c) not in med:
                cells.append("–")
                continue
            best = min(v for (pp, ee, _), v in med.items() if (pp, ee) == (p, e))
            ratios.append(med[(p, e, c)] / best)
            text = f"{med[(p, e, c)]:.4f}"
            cells.append(f"**{text}**" if med[(p, e, c)] == best else text)
        if not ratios:  # a candidate not run
            continue
        mean = f"{statistics.mean(ratios):.3f}"
        lines.append(f"| {c} | " + " | ".join(cells) + f" | {mean} |")
    lrs = []
    for p in args.problems:
        for e in args.epochs:
            values = [
                r["lr"]
                for r in results
                if (r["problem"], r["candidate"], r["epochs"]) == (p, "cosine auto", e)
            ]
            if values:
                lrs.append(f"{p} {e} ep. {statistics.median(values):.2e}")
    note = (
        f"\nMedian relative L2 test error over seeds {sorted(seeds)}; bold: the best per column. "
        f"Suggested peak (median): {', '.join(lrs)}."
    )
    return "\n".join(lines) + note


BEGIN, END = "<!-- select_defaults: begin -->", "<!-- select_defaults: end -->"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--problems", nargs="+", choices=list(bench_train.PROBLEMS), default=list(bench_train.PROBLEMS)
    )
    parser.add_argument("--candidates", nargs="+", choices=list(CANDIDATES), default=list(CANDIDATES))
    parser.add_argument("--epochs", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--jobs", type=int, default=2, help="runs at once, one torch thread each")
    parser.add_argument("--table", action="store_true", help="only print the table of what is done")
    parser.add_argument("--write", action="store_true", help="put the table into benchmarks/RESULTS.md")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        p, c, e, s = args.child
        print(json.dumps(child(p, c, int(e), int(s))))
        return
    if not (args.table or args.write):
        run_all(args)
    text = table(args)
    print(text)
    if args.write:
        path = HERE / "RESULTS.md"
        current = path.read_text()
        block = f"{BEGIN}\n{text}\n{END}"
        if BEGIN in current and END in current:
            current = current[: current.index(BEGIN)] + block + current[current.index(END) + len(END) :]
        else:
            current = current.rstrip("\n") + "\n\n" + block + "\n"
        path.write_text(current)


if __name__ == "__main__":
    main()
