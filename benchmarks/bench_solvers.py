"""2D Navier-Stokes step: specops against torch-cfd 0.2.6, same scheme, grid, batch, viscosity and dtype.

Both sides run the low-storage RK4-Crank-Nicolson scheme of jax-cfd (``crank_nicolson_rk4``) on the FNO
problem (unit torus, forcing 0.1 (sin 2 pi (x + y) + cos 2 pi (x + y)), nu = 1e-3, 2/3 de-aliasing) from
the same initial vorticity, in one process:

- time per step and sample-steps per second at 64^2, 128^2, 256^2 (median of repeats, after a warm-up),
  with the time of the step's 25 FFTs alone as the floor both codes share;
- agreement: relative L2 distance of the two vorticities after one time unit in float64 (target 1e-6).
  The initial vorticity is a GRF sample projected onto the de-aliased modes, where both codes' Nyquist
  conventions coincide; where torch-cfd's 2/3 mask differs from ours (it keeps k_x = -43 but not +43 at
  128^2) its mask is passed to our equation, so both run the same scheme.

    python benchmarks/bench_solvers.py --setup          # once: torch-cfd into benchmarks/.work/torch-cfd-venv
    python benchmarks/bench_solvers.py                  # CPU, batch 8, float32 and float64
    python benchmarks/bench_solvers.py --gpu            # CUDA: 256^2, batch 64, float32
    python benchmarks/bench_solvers.py --quick          # smoke test on small sizes
    python benchmarks/bench_solvers.py --write          # also append the table to benchmarks/RESULTS.md

torch-cfd is installed with ``--no-deps`` (plus ``einops``, the one package its import needs) into a venv
created with ``--system-site-packages`` that also sees this environment's site-packages, so pip never
replaces torch. Its code is only imported and called here.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import site
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEER_VENV = HERE / ".work" / "torch-cfd-venv"
PEER_PACKAGES = ["torch-cfd==0.2.6", "einops"]
MALLOC_VARS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def setup_peer() -> Path:
    """Create the torch-cfd environment once; returns its python."""
    py = PEER_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(PEER_VENV)], check=True)
        # A venv made from a venv sees the base interpreter's packages only: point it at ours too.
        target = subprocess.run(
            [str(py), "-c", "import site; print(site.getsitepackages()[0])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        lines = "".join(f"import site; site.addsitedir({p!r})\n" for p in site.getsitepackages())
        Path(target, "specops-parent-env.pth").write_text(lines)
    if subprocess.run([str(py), "-c", "import torch_cfd.spectral"], capture_output=True).returncode != 0:
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--no-deps", *PEER_PACKAGES], check=True)
    return py


# ----------------------------------------------------------------------------- the two solvers


def build_peer(n: int, viscosity: float, dtype, device):
    """torch-cfd's spectral NS with its RK4-Crank-Nicolson stepper and SinCosForcing (the FNO forcing)."""
    import torch
    import torch_cfd.forcings as forcings
    import torch_cfd.grids as grids
    import torch_cfd.spectral as spectral

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # torch-cfd builds its grids and forcing in the default dtype
    try:
        grid = grids.Grid((n, n), domain=((0, 1), (0, 1)), device=device)
        forcing = forcings.SinCosForcing(grid=grid, scale=0.1, diam=1.0, wave_number=1, vorticity=True)
        model = spectral.NavierStokes2DSpectral(
            viscosity=viscosity,
            grid=grid,
            drag=0.0,
            smooth=True,
            forcing_fn=forcing,
            step_fn=spectral.RK4CrankNicolsonStepper(),
        ).to(device)
        mask = spectral.brick_wall_filter_2d(grid).bool()
    finally:
        torch.set_default_dtype(previous)
    return model, mask


def run_peer(model, w0, dt: float, steps: int, dtype):
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.no_grad():
            w_hat, _ = model(torch.fft.rfft2(w0[:, 0]), dt, steps=steps)
        return torch.fft.irfft2(w_hat, s=w0.shape[-2:]).unsqueeze(1)
    finally:
        torch.set_default_dtype(previous)


def run_ours(equation, w0, dt: float, steps: int):
    from specops.solvers import CrankNicolsonRK4, integrate

    return integrate(equation, w0, [steps * dt], stepper=CrankNicolsonRK4(), dt=dt).states[:, -1]


def initial_vorticity(n: int, batch: int, dtype, device):
    """GRF(alpha 2.5, tau 7) samples projected onto the 2/3 de-aliased modes."""
    import torch

    from specops.solvers import GaussianRandomField
    from specops.spectral import dealias_mask

    w = GaussianRandomField((n, n), 2.5, 7.0).sample(range(batch), dtype=torch.float64).unsqueeze(1)
    w = torch.fft.irfft2(torch.fft.rfft2(w) * dealias_mask((n, n)), s=(n, n))
    return w.to(device=device, dtype=dtype)


# ----------------------------------------------------------------------------- measurements


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_time(fn, device, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fft_floor(equation, w0, repeats: int) -> float:
    """Seconds per step of the FFTs alone: 5 stages x (4 inverse + 1 forward) 2D real transforms, in the
    sample chunks ``integrate`` uses."""
    import math

    import torch

    from specops.solvers.integrate import default_chunk_size

    batch, n = w0.shape[0], w0.shape[-1]
    size = math.ceil(batch / math.ceil(batch / default_chunk_size(equation, w0)))
    cdtype = torch.complex128 if w0.dtype == torch.float64 else torch.complex64
    chunks = [
        (
            torch.randn(min(size, batch - i), 4, n, n // 2 + 1, dtype=cdtype, device=w0.device),
            torch.randn(min(size, batch - i), 1, n, n, dtype=w0.dtype, device=w0.device),
        )
        for i in range(0, batch, size)
    ]

    def ffts():
        for spec, phys in chunks:
            for _ in range(5):
                torch.fft.irfftn(spec, s=(n, n), dim=(-2, -1))
                torch.fft.rfftn(phys, dim=(-2, -1))

    return median_time(ffts, w0.device, repeats)


def measure(n: int, batch: int, dtype, device, steps: int, repeats: int) -> dict:
    from specops.solvers import FNOForcing, NavierStokes2D

    dt = 1e-3
    w0 = initial_vorticity(n, batch, dtype, device)
    peer, _ = build_peer(n, 1e-3, dtype, device)
    ours = NavierStokes2D(n, 1e-3, FNOForcing())
    t_ours = median_time(lambda: run_ours(ours, w0, dt, steps), device, repeats)
    t_peer = median_time(lambda: run_peer(peer, w0, dt, steps, dtype), device, repeats)
    t_fft = fft_floor(ours, w0, repeats)
    return {
        "n": n,
        "batch": batch,
        "dtype": str(dtype).replace("torch.", ""),
        "ours_ms": 1e3 * t_ours / steps,
        "peer_ms": 1e3 * t_peer / steps,
        "fft_ms": 1e3 * t_fft,
        "ours_rate": batch * steps / t_ours,
        "peer_rate": batch * steps / t_peer,
        "speedup": t_peer / t_ours,
    }


def agreement(n: int, batch: int, device, t_final: float = 1.0, dt: float = 1e-3) -> dict:
    """Relative L2 distance of the two solutions after ``t_final`` in float64, same scheme and dt."""
    import torch

    from specops.solvers import FNOForcing, NavierStokes2D
    from specops.spectral import dealias_mask

    steps = round(t_final / dt)
    peer, peer_mask = build_peer(n, 1e-3, torch.float64, device)
    same_mask = torch.equal(peer_mask.cpu(), dealias_mask((n, n)))
    ours = NavierStokes2D(n, 1e-3, FNOForcing(), dealias=2 / 3 if same_mask else peer_mask.cpu())
    w0 = initial_vorticity(n, batch, torch.float64, device)
    a = run_ours(ours, w0, dt, steps)
    b = run_peer(peer, w0, dt, steps, torch.float64)
    rel = ((a - b).flatten(1).norm(dim=1) / b.flatten(1).norm(dim=1)).max().item()
    return {"n": n, "rel_l2": rel, "same_mask": same_mask, "steps": steps, "t_final": t_final}


# ----------------------------------------------------------------------------- driver


def environment(device) -> dict:
    import torch

    info = {
        "date": datetime.date.today().isoformat(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "malloc": "tuned" if all(os.environ.get(v) for v in MALLOC_VARS) else "glibc default",
    }
    if device.type == "cuda":
        info["device"] = torch.cuda.get_device_name(device)
    else:
        cpu = platform.processor() or platform.machine()
        try:
            with open("/proc/cpuinfo") as fh:
                cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
        except (OSError, StopIteration):
            pass
        info["device"] = cpu
    return info


def format_table(rows: list[dict], checks: list[dict], env: dict) -> str:
    head = (
        f"\n### NS step, specops vs torch-cfd 0.2.6 (RK4-Crank-Nicolson), {env['date']}\n\n"
        f"{env['device']}, torch {env['torch']}, {env['threads']} threads, malloc {env['malloc']}.\n\n"
        "| grid | batch | dtype | specops ms/step | torch-cfd ms/step | speedup | specops sample-steps/s "
        "| torch-cfd sample-steps/s | FFTs alone ms/step |\n|---|---|---|---|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| {r['n']}² | {r['batch']} | {r['dtype']} | {r['ours_ms']:.3f} | {r['peer_ms']:.3f} | "
        f"{r['speedup']:.2f}x | {r['ours_rate']:.0f} | {r['peer_rate']:.0f} | {r['fft_ms']:.3f} |\n"
        for r in rows
    )
    agree = "".join(
        f"- agreement at {c['n']}², float64, t = {c['t_final']:g} ({c['steps']} steps): relative L2 {c['rel_l2']:.2e} "
        f"({'PASS' if c['rel_l2'] <= 1e-6 else 'FAIL'} at 1e-6)"
        f"{'' if c['same_mask'] else '; torch-cfd 2/3 mask passed to specops (it differs from ours here)'}\n"
        for c in checks
    )
    return head + body + "\n" + agree


def child(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtypes = [torch.float32] if args.gpu else [torch.float32, torch.float64]
    if args.dtype != "both":
        dtypes = [torch.float32 if args.dtype == "float32" else torch.float64]
    rows = [
        measure(n, args.batch, dtype, device, args.steps, args.repeats) for n in args.res for dtype in dtypes
    ]
    checks = [agreement(n, min(args.batch, 4), device, t_final=args.agree_time) for n in args.agree_res]
    print(json.dumps({"rows": rows, "checks": checks, "env": environment(device)}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--setup", action="store_true", help="only install torch-cfd into benchmarks/.work")
    p.add_argument("--res", type=int, nargs="+", default=None, help="grid sizes (default 64 128 256)")
    p.add_argument("--batch", type=int, default=None, help="samples (default 8 on CPU, 64 with --gpu)")
    p.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    p.add_argument("--steps", type=int, default=None, help="time steps per timed run (default 20, GPU 100)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--gpu", action="store_true", help="CUDA preset: 256^2, batch 64, float32")
    p.add_argument("--agree-res", type=int, nargs="*", default=None, help="grids of the agreement check")
    p.add_argument("--agree-time", type=float, default=1.0)
    p.add_argument("--quick", action="store_true", help="smoke test: 32^2 and 64^2, few steps")
    p.add_argument("--write", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = p.parse_args()
    if args.gpu:
        args.device = "cuda"
    defaults = {
        "res": [256] if args.gpu else [32, 64] if args.quick else [64, 128, 256],
        "batch": 64 if args.gpu else 4 if args.quick else 8,
        "steps": 100 if args.gpu else 5 if args.quick else 20,
        "agree_res": [32] if args.quick else [64, 128, 256] if args.gpu else [64, 128],
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.quick:
        args.repeats, args.agree_time = min(args.repeats, 3), 0.1
    if args.child:
        child(args)
        return
    python = setup_peer()
    if args.setup:
        print(f"torch-cfd ready in {PEER_VENV}")
        return
    argv = [a for a in sys.argv[1:] if a != "--write"]
    out = subprocess.run([str(python), __file__, "--child", *argv], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"benchmark child failed:\n{out.stderr}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    table = format_table(result["rows"], result["checks"], result["env"])
    print(table)
    if args.write:
        with open(HERE / "RESULTS.md", "a") as fh:
            fh.write(table)


if __name__ == "__main__":
    main()
