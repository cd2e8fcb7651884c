"""Frequency-domain layers (issue 18): what each costs and what it buys on a PDE task.

Sections (each prints a markdown table):

- ``rpe``: kernelized attention with a Toeplitz relative positional encoding, applied by FFT
  (``rpe_attention_fft``) against the quadratic computation (``rpe_attention_quadratic``, the attention
  matrix formed in row blocks of 2048) as the sequence grows; 1 head, 16 random features, head width 16,
  float32 timings, float64 differences. Target: >= 5x faster at 16k tokens, relative difference < 1e-5.
- ``nuft``: ``GaussianNUFT`` against direct summation at 10^4 points and 32^2 modes, float64, type 1 and
  type 2, with new points every call (the stencil / the phase matrix built each time). Target: within
  1e-6 of direct summation and >= 50x faster.
- ``points``: Darcy (64^2 nodes) sampled at 4096 random points per sample (a at the nearest node, u
  bilinear): the NUFT-FNO (cell-density quadrature in, 32^2 latent grid, NUFT out) against the same FNO
  on the 64^2 grid; relative L2 at the points / on the grid. Target: within 1.5x of the grid FNO.
- ``mixers``: every mixer in the same FNO (4 blocks), width chosen so the parameter counts match the
  spectral FNO's (modes 8, width 12) as closely as the width allows; Darcy and Navier-Stokes (nu 1e-3,
  w(0) -> w(1)) trained at 32^2 (every other node of 64^2 data), tested at 32^2 and 64^2. The attention
  mixers run with 8 random features (rpe) and 4 harmonics (karat) to fit the CPU budget.

    python benchmarks/bench_layers.py                    # all sections (about 15 minutes on 1 thread)
    python benchmarks/bench_layers.py --sections rpe nuft
    python benchmarks/bench_layers.py --small            # seconds; checks that the script works
"""

from __future__ import annotations

import argparse
import functools
import math
import statistics
import time

import torch

from specops import FNO
from specops.layers.attention_rpe import offsets, rpe_attention_fft, rpe_attention_quadratic
from specops.layers.mixers import MIXERS
from specops.layers.nuft import GaussianNUFT, direct_type1, direct_type2
from specops.layers.nuft_layers import cell_weights
from specops.models.fno_variants import NUFTFNO
from specops.solvers.problems import make_problem


def timed(fn, repeats: int) -> tuple[float, object]:
    """Median wall time of ``repeats`` calls after one warm-up, and the last result."""
    out = fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


# ----------------------------------------------------------------------------------------------- rpe
def bench_rpe(sizes: list[int], repeats: int) -> None:
    print("\n### FFT-RPE attention vs quadratic (1 head, m = 16 features, head width 16, Toeplitz RPE)\n")
    print(
        "| tokens | FFT (s) | quadratic (s) | quadratic / FFT | rel. diff FFT vs quadratic, float64 "
        "| same, float32 | float32 quadratic vs float64 |"
    )
    print("|---|---|---|---|---|---|---|")
    torch.manual_seed(0)
    for n in sizes:
        phi_q = torch.rand(1, 1, n, 16, dtype=torch.float64) + 0.1
        phi_k = torch.rand(1, 1, n, 16, dtype=torch.float64) + 0.1
        v = torch.randn(1, 1, n, 16, dtype=torch.float64)
        off = offsets(n, periodic=False).double() / n
        c = torch.exp(0.5 * torch.cos(math.pi * off) + 0.3 * torch.sin(2 * math.pi * off))[None]
        c[:, n] = 0.0

        def dense_rows(start, stop, c_vec, n=n):
            i = torch.arange(start, stop)[:, None]
            j = torch.arange(n)[None]
            return c_vec[:, torch.remainder(i - j, 2 * n)]

        def quadratic(q, k, val, c_vec, chunk=2048, n=n):
            rows = []
            for s in range(0, n, chunk):
                a = torch.matmul(q[..., s : s + chunk, :], k.transpose(-1, -2)) * dense_rows(
                    s, min(n, s + chunk), c_vec
                )
                rows.append(torch.matmul(a, val) / a.sum(-1, keepdim=True))
            return torch.cat(rows, -2)

        f32 = [t.float() for t in (phi_q, phi_k, v)]
        c32 = c.float()
        t_fft, fast32 = timed(
            lambda f32=f32, c32=c32, n=n: rpe_attention_fft(*f32, c32, (n,), False), repeats
        )
        t_quad, quad32 = timed(lambda f32=f32, c32=c32, q=quadratic: q(*f32, c32), max(1, repeats // 2))
        exact = quadratic(phi_q, phi_k, v, c)
        fast64 = rpe_attention_fft(phi_q, phi_k, v, c, (n,), False)
        print(
            f"| {n} | {t_fft:.4f} | {t_quad:.3f} | {t_quad / t_fft:.1f} | {rel(fast64, exact):.1e} | "
            f"{rel(fast32.double(), quad32.double()):.1e} | {rel(quad32.double(), exact):.1e} |"
        )
    # the reference implementation in the library agrees with the local chunked one
    assert rel(rpe_attention_quadratic(phi_q, phi_k, v, dense_rows(0, n, c)), exact) < 1e-12


# ---------------------------------------------------------------------------------------------- nuft
def bench_nuft(n_points: int, modes: tuple[int, int], repeats: int) -> None:
    print(f"\n### NUFT vs direct summation ({n_points} points, {modes[0]}x{modes[1]} modes, float64)\n")
    print("| transform | tol | M_sp | direct (s) | Gaussian gridding (s) | direct / fast | max rel. error |")
    print("|---|---|---|---|---|---|---|")
    torch.manual_seed(1)
    x = torch.rand(n_points, 2, dtype=torch.float64)
    c = torch.randn(1, 1, n_points, dtype=torch.float64)
    f = torch.randn(1, 1, *modes, dtype=torch.complex128)
    t_d1, ref1 = timed(lambda: direct_type1(c, x, modes), repeats)
    t_d2, ref2 = timed(lambda: direct_type2(f, x), repeats)
    for tol in (1e-6, 1e-7, 1e-9):
        nuft = GaussianNUFT(modes, tol)
        t1, out1 = timed(lambda nuft=nuft: nuft.type1(c, x), repeats)
        t2, out2 = timed(lambda nuft=nuft: nuft.type2(f, x), repeats)
        print(
            f"| type 1 | {tol:g} | {nuft.spread} | {t_d1:.4f} | {t1:.4f} | {t_d1 / t1:.1f} | {rel(out1, ref1):.1e} |"
        )
        print(
            f"| type 2 | {tol:g} | {nuft.spread} | {t_d2:.4f} | {t2:.4f} | {t_d2 / t2:.1f} | {rel(out2, ref2):.1e} |"
        )


# ------------------------------------------------------------------------------------------ training
def normalizer(x: torch.Tensor) -> tuple[float, float]:
    return x.mean().item(), x.std().item()


def rel_l2(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Mean over samples of ``|pred - true| / |true|``."""
    p, t = pred.flatten(1), true.flatten(1)
    return ((p - t).norm(dim=1) / t.norm(dim=1)).mean()


def train(model, batches, epochs: int, lr: float = 3e-3) -> float:
    """Adam + cosine schedule on the relative L2 loss; returns the median seconds per epoch."""
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * len(batches))
    times = []
    for _ in range(epochs):
        t = time.perf_counter()
        model.train()
        for inputs, target in batches:
            opt.zero_grad()
            loss = rel_l2(model(*inputs), target)
            loss.backward()
            opt.step()
            sched.step()
        times.append(time.perf_counter() - t)
    model.eval()
    return statistics.median(times)


def unscale(x: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    return x * std + mean


def evaluate(model, inputs, target, decode) -> float:
    with torch.no_grad():
        return rel_l2(decode(model(*inputs)), target).item()


def split_batches(xs: list[torch.Tensor], y: torch.Tensor, size: int) -> list:
    return [([x[i : i + size] for x in xs], y[i : i + size]) for i in range(0, y.shape[0], size)]


# -------------------------------------------------------------------------------------------- points
def bench_points(n_train: int, n_test: int, n_points: int, epochs: int) -> None:
    print(
        f"\n### Darcy on irregular points: NUFT-FNO vs grid FNO ({n_train} train / {n_test} test, {epochs} epochs)\n"
    )
    data = make_problem("darcy", resolution=64).generate(list(range(n_train + n_test)))
    a, u = data["a"], data["u"]
    (am, asd), (um, usd) = normalizer(a[:n_train]), normalizer(u[:n_train])
    an, un = (a - am) / asd, (u - um) / usd
    gen = torch.Generator().manual_seed(2)
    pts = torch.rand(a.shape[0], n_points, 2, generator=gen)
    node = torch.round(pts * 63).long()
    b = torch.arange(a.shape[0])[:, None]
    a_pts = an[:, 0][b, node[..., 0], node[..., 1]][:, None]
    s = pts * 63  # bilinear interpolation of u between nodes
    i0 = s.floor().long().clamp(max=62)
    t = s - i0
    u0 = u[:, 0]
    u_pts = (
        u0[b, i0[..., 0], i0[..., 1]] * (1 - t[..., 0]) * (1 - t[..., 1])
        + u0[b, i0[..., 0] + 1, i0[..., 1]] * t[..., 0] * (1 - t[..., 1])
        + u0[b, i0[..., 0], i0[..., 1] + 1] * (1 - t[..., 0]) * t[..., 1]
        + u0[b, i0[..., 0] + 1, i0[..., 1] + 1] * t[..., 0] * t[..., 1]
    )[:, None]
    weights = cell_weights(pts, 32)
    fno_args = {"n_modes": (12, 12), "hidden_channels": 32, "n_layers": 4}
    print("| model | input | parameters | s / epoch | rel. L2 (test) |")
    print("|---|---|---|---|---|")
    torch.manual_seed(3)
    grid = FNO(**fno_args)
    sec = train(grid, split_batches([an[:n_train]], un[:n_train], 16), epochs)
    err = evaluate(grid, [an[n_train:]], u[n_train:], functools.partial(unscale, mean=um, std=usd))
    print(f"| FNO | 64^2 grid | {grid.n_parameters:,} | {sec:.1f} | {err:.4f} |")
    torch.manual_seed(3)
    model = NUFTFNO(**fno_args, latent_grid=(32, 32), tol=1e-5)
    tr = split_batches(
        [a_pts[:n_train], pts[:n_train], pts[:n_train], weights[:n_train]], (u_pts[:n_train] - um) / usd, 16
    )
    sec = train(model, tr, epochs)
    test_in = [a_pts[n_train:], pts[n_train:], pts[n_train:], weights[n_train:]]
    err_p = evaluate(model, test_in, u_pts[n_train:], functools.partial(unscale, mean=um, std=usd))
    print(f"| NUFT-FNO | {n_points} random points | {model.n_parameters:,} | {sec:.1f} | {err_p:.4f} |")
    print(f"\nratio NUFT-FNO / grid FNO: {err_p / err:.2f} (target <= 1.5)")


# -------------------------------------------------------------------------------------------- mixers
MIXER_OPTIONS = {
    "aff": {"groups": 4},
    "ffc": {},
    "fdconv": {"n_groups": 8},
    "weighted-conv": {"density": [0.5], "learn_density": True},
    "rpe-attention": {"heads": 4, "features": 8},
    "karat": {"heads": 4, "order": 4, "landmarks": 8},
}


def matched_model(mixer: str, target: int) -> FNO:
    """The FNO with ``mixer`` whose width (a multiple of 4) gives the parameter count closest to ``target``."""
    best = None
    for width in range(8, 161, 4):
        torch.manual_seed(4)
        model = FNO((8, 8), 1, 1, width, 4, mixer=mixer, mixer_options=MIXER_OPTIONS[mixer])
        gap = abs(model.n_parameters - target)
        if best is None or gap < best[0]:
            best = (gap, model)
        if model.n_parameters > target:
            break
    return best[1]


def problem_data(name: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    if name == "darcy":
        d = make_problem("darcy", resolution=64).generate(list(range(n)))
        return d["a"], d["u"]
    d = make_problem("ns", t_final=1.0, save_interval=1.0, dt=2e-3).generate(list(range(n)))
    return d["w"][:, 0], d["w"][:, 1]


def bench_mixers(n_train: int, n_test: int, epochs: int) -> None:
    print(
        f"\n### Mixers in the same FNO ({n_train} train / {n_test} test at 32^2, {epochs} epochs, batch 8)\n"
    )
    print("| problem | mixer | width | parameters | s / epoch | rel. L2 at 32^2 | rel. L2 at 64^2 |")
    print("|---|---|---|---|---|---|---|")
    for problem in ("darcy", "ns"):
        x, y = problem_data(problem, n_train + n_test)
        (xm, xs), (ym, ys) = normalizer(x[:n_train]), normalizer(y[:n_train])
        xn, yn = (x - xm) / xs, (y - ym) / ys
        coarse = (..., slice(None, None, 2), slice(None, None, 2))
        torch.manual_seed(4)
        target = FNO((8, 8), 1, 1, 12, 4).n_parameters
        for mixer in MIXERS:
            model = FNO((8, 8), 1, 1, 12, 4) if mixer == "spectral" else matched_model(mixer, target)
            torch.manual_seed(5)
            sec = train(model, split_batches([xn[:n_train][coarse]], yn[:n_train][coarse], 8), epochs)
            decode = functools.partial(unscale, mean=ym, std=ys)
            e32 = evaluate(model, [xn[n_train:][coarse]], y[n_train:][coarse], decode)
            try:
                e64 = f"{evaluate(model, [xn[n_train:]], y[n_train:], decode):.4f}"
            except ValueError:
                e64 = "refused (fixed resolution)"
            print(
                f"| {problem} | {mixer} | {model.hidden_channels} | {model.n_parameters:,} | {sec:.2f} | "
                f"{e32:.4f} | {e64} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", nargs="+", default=["rpe", "nuft", "points", "mixers"])
    parser.add_argument("--small", action="store_true", help="tiny sizes: check that the script works")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    if "rpe" in args.sections:
        bench_rpe([256, 512] if args.small else [1024, 2048, 4096, 8192, 16384], 1 if args.small else 3)
    if "nuft" in args.sections:
        bench_nuft(500 if args.small else 10_000, (8, 8) if args.small else (32, 32), 1 if args.small else 5)
    if "points" in args.sections:
        bench_points(*((32, 16, 256, 1) if args.small else (300, 60, 4096, 10)))
    if "mixers" in args.sections:
        bench_mixers(*((32, 16, 1) if args.small else (192, 32, 8)))
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
