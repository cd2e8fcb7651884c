"""FNO speed and memory: specops against neuraloperator 2.0.0, same configuration and inputs.

Each (library, resolution) runs in a fresh child process so peak memory is its own. Both sides see the
same threads, allocator settings, seed, inputs, loss (mean squared error) and optimizer (AdamW, lr 1e-3).

    python benchmarks/bench_fno.py                   # CPU: 64^2 and 128^2, batch 16, modes 16, 2 threads
    python benchmarks/bench_fno.py --gpu             # CUDA: 256^2, batch 32, modes 32
    python benchmarks/bench_fno.py --write           # also update benchmarks/RESULTS.md

neuraloperator is installed into ``benchmarks/.work/peer-venv`` (``--system-site-packages`` over the
current environment, ``--no-deps`` so pip never replaces torch): ``python benchmarks/bench_fno.py --setup``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEER_VENV = HERE / ".work" / "peer-venv"
PEER_PACKAGES = ["neuraloperator==2.0.0", "tensorly==0.10.0", "tensorly-torch==0.5.0", "opt-einsum"]
TUNED_MALLOC = {
    "MALLOC_MMAP_THRESHOLD_": "17179869184",
    "MALLOC_TRIM_THRESHOLD_": "17179869184",
    "MALLOC_TOP_PAD_": "1073741824",
}


def setup_peer() -> Path:
    """Create the peer environment once; returns its python."""
    py = PEER_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(PEER_VENV)], check=True)
    probe = subprocess.run([str(py), "-c", "import neuralop"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--no-deps", *PEER_PACKAGES], check=True)
    return py


def child(args: argparse.Namespace) -> None:
    """Time one library at one size; print a JSON line."""
    import resource

    import torch

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    modes = (args.modes, args.modes)
    if args.lib == "specops":
        from specops import FNO

        model = FNO(modes, 1, 1, args.hidden, args.layers)
    else:
        from neuralop.models import FNO as PeerFNO

        model = PeerFNO(
            n_modes=modes, in_channels=1, out_channels=1, hidden_channels=args.hidden, n_layers=args.layers
        )
    model = model.to(device)
    n_params = sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())
    g = torch.Generator().manual_seed(1)
    x = torch.randn(args.batch, 1, args.res, args.res, generator=g).to(device)
    y = torch.randn(args.batch, 1, args.res, args.res, generator=g).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()

    @torch.no_grad()
    def infer():
        model(x)

    def timeit(fn):
        for _ in range(args.warmup):
            fn()
        sync()
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - t0)
        times.sort()
        return times[len(times) // 2]

    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        train_step()
    train_flops = counter.get_total_flops()
    with FlopCounterMode(display=False) as counter:
        infer()
    infer_flops = counter.get_total_flops()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t_train = timeit(train_step)
    peak_train_gpu = torch.cuda.max_memory_allocated() if device.type == "cuda" else None
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t_infer = timeit(infer)
    peak_infer_gpu = torch.cuda.max_memory_allocated() if device.type == "cuda" else None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "lib": args.lib,
                "res": args.res,
                "params": n_params,
                "train_s": t_train,
                "infer_s": t_infer,
                "peak_rss": rss,
                "peak_gpu_train": peak_train_gpu,
                "peak_gpu_infer": peak_infer_gpu,
                "train_flops": train_flops,
                "infer_flops": infer_flops,
                "gemm_flops_per_s": gemm_peak(device),
                "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
            }
        )
    )


def gemm_peak(device) -> float:
    """Measured float32 GEMM throughput (flop/s) of this device with the configured threads: the floor."""
    import torch

    n = 2048
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    for _ in range(2):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    reps = 5
    for _ in range(reps):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * n**3 * reps / (time.perf_counter() - t0)


def run_one(python: str, lib: str, res: int, opts: argparse.Namespace, env: dict) -> dict:
    cmd = [
        python,
        __file__,
        "--child",
        "--lib",
        lib,
        "--res",
        str(res),
        "--batch",
        str(opts.batch),
        "--modes",
        str(opts.modes),
        "--hidden",
        str(opts.hidden),
        "--layers",
        str(opts.layers),
        "--threads",
        str(opts.threads),
        "--device",
        opts.device,
        "--repeats",
        str(opts.repeats),
        "--warmup",
        str(opts.warmup),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{lib} at {res}^2 failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--lib", default="specops")
    p.add_argument("--res", type=int, nargs="+", default=None)
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--modes", type=int, default=None)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--gpu", action="store_true", help="CUDA preset: 256^2, batch 32, modes 32")
    p.add_argument("--malloc", choices=["default", "tuned", "both"], default="both")
    p.add_argument("--setup", action="store_true", help="only install the peer environment")
    p.add_argument("--write", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = p.parse_args()
    if args.child:
        args.res = args.res[0]
        child(args)
        return
    if args.gpu:
        args.device = "cuda"
        args.res = args.res or [256]
        args.batch = args.batch or 32
        args.modes = args.modes or 32
        args.malloc = "default"
    args.res = args.res or [64, 128]
    args.batch = args.batch or 16
    args.modes = args.modes or 16
    peer_python = str(setup_peer())
    if args.setup:
        return
    settings = ["default", "tuned"] if args.malloc == "both" else [args.malloc]
    rows = []
    for setting in settings:
        env = dict(os.environ)
        env.update({"OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)})
        if setting == "tuned":
            env.update(TUNED_MALLOC)
        for res in args.res:
            ours = run_one(sys.executable, "specops", res, args, env)
            peer = run_one(peer_python, "neuralop", res, args, env)
            rows.append((setting, res, ours, peer))
            print(format_row(setting, res, ours, peer), flush=True)
    table = format_table(rows, args)
    print(table)
    if args.write:
        with open(HERE / "RESULTS.md", "a") as fh:
            fh.write(table + "\n")


def _mem(row: dict) -> float:
    key = "peak_gpu_train" if row["peak_gpu_train"] is not None else "peak_rss"
    return row[key] / 2**30


def format_row(setting, res, ours, peer) -> str:
    return (
        f"{setting:8s} {res:4d}^2  train {ours['train_s'] * 1e3:8.1f} ms vs {peer['train_s'] * 1e3:8.1f} ms "
        f"({ours['train_s'] / peer['train_s']:.2f}x)  infer {ours['infer_s'] * 1e3:7.1f} vs "
        f"{peer['infer_s'] * 1e3:7.1f} ms ({ours['infer_s'] / peer['infer_s']:.2f}x)  "
        f"mem {_mem(ours):.2f} vs {_mem(peer):.2f} GiB  params {ours['params']} vs {peer['params']}  "
        f"GEMM floor ours {_floor(ours):.0f} ms ({ours['train_flops'] / 1e9:.1f} GFLOP), "
        f"peer {_floor(peer):.0f} ms ({peer['train_flops'] / 1e9:.1f} GFLOP)"
    )


def _floor(row: dict) -> float:
    """Train-step time if every counted flop ran at the measured GEMM peak (ms)."""
    return row["train_flops"] / row["gemm_flops_per_s"] * 1e3


def format_table(rows, args) -> str:
    device = rows[0][2]["device"]
    head = (
        f"\n### FNO 2D, hidden {args.hidden}, {args.layers} layers, modes {args.modes}, batch {args.batch}, "
        f"float32, {device}, {args.threads} threads ({time.strftime('%Y-%m-%d')})\n\n"
        "| malloc | res | params (ours / peer) | train step ours | peer | ratio | inference ours | peer | "
        "ratio | peak mem ours | peer | train GFLOP ours / peer | GEMM floor ours |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for setting, res, o, p in rows:
        lines.append(
            f"| {setting} | {res}² | {o['params']:,} / {p['params']:,} | {o['train_s'] * 1e3:.1f} ms | "
            f"{p['train_s'] * 1e3:.1f} ms | {o['train_s'] / p['train_s']:.2f} | {o['infer_s'] * 1e3:.1f} ms | "
            f"{p['infer_s'] * 1e3:.1f} ms | {o['infer_s'] / p['infer_s']:.2f} | {_mem(o):.2f} GiB | {_mem(p):.2f} GiB | "
            f"{o['train_flops'] / 1e9:.1f} / {p['train_flops'] / 1e9:.1f} | {_floor(o):.0f} ms "
            f"({_floor(o) / (o['train_s'] * 1e3):.0%} of ours) |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
