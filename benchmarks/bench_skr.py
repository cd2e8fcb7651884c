"""Sorted Krylov recycling (SKR) against GMRES, GCRO-DR without recycling and the direct solver.

Part A, linear solves: for Darcy (12/3 coefficients), Helmholtz (lognormal wavenumber, impedance boundary,
several ``k0``) and the implicit heat equation (lognormal conductivity, backward Euler steps), the same ``N``
parameter sets are solved by

- ``direct``: SuperLU, the reference;
- ``gmres``: restarted GMRES(m);
- ``gcrodr``: GCRO-DR(m, k) with deflated restarting, the recycled space dropped between systems;
- ``gcrodr+recycle``: GCRO-DR(m, k), the space recycled from system to system in the natural order;
- ``skr``: GCRO-DR(m, k) recycled along the greedy nearest-neighbour tour (Wang et al., ICLR 2024),

each with the same preconditioner (ILU, AMG when pyamg imports; for Helmholtz also Jacobi) and tolerance
(1e-6, 1e-8). Reported:
products with ``A`` (all of them: Krylov steps, rebuilding ``C = A U``, residual checks), wall time of the
whole ``generate`` call (sampling, assembly, preconditioner setup, solves), samples that did not converge.

Part B, does the data differ for learning? An FNO is trained on Darcy data from the direct solver and from
SKR at rtol 1e-6 (same seeds, same model seed) and tested on direct-solver data; a second model seed on
the direct data measures the noise.

    python benchmarks/bench_skr.py              # the sizes in RESULTS.md
    python benchmarks/bench_skr.py --small      # seconds; checks that the script works
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one thread everywhere (the CPU is shared)

import argparse
import platform
import statistics
import time

import torch

from specops.solvers.problems import make_problem

METHODS = {
    "direct": {"method": "direct"},
    "gmres": {"method": "gmres"},
    "gcrodr": {"method": "gcrodr", "reuse": False},
    "gcrodr+recycle": {"method": "gcrodr", "reuse": True},
    "skr": {"method": "skr"},
}


def have_pyamg() -> bool:
    try:
        import pyamg  # noqa: F401
    except ImportError:
        return False
    return True


def run(name: str, settings: dict, solver: dict, n: int, repeats: int = 1) -> dict:
    """One generation of ``n`` samples; wall time the median of ``repeats`` runs (counts are deterministic)."""
    walls = []
    for _ in range(repeats):
        problem = make_problem(name, **settings, solver=solver)
        start = time.perf_counter()
        _, info = problem.generate_with_info(list(range(n)), dtype=torch.float64)
        walls.append(time.perf_counter() - start)
    return {
        "matvecs": int(info["matvecs"].sum()),
        "wall": statistics.median(walls),
        "repeats": repeats,
        "failed": int((info["converged"] == 0).sum()),
        "residual": float(info["residual"].max()),
    }


def configurations(name: str, args) -> list[tuple[str, int, int, int]]:
    """(preconditioner, m, k, wall-time repeats) per problem: ILU and AMG at (m, k) = (60, 20); for
    Helmholtz also Jacobi, where systems need hundreds of iterations, with a larger space (100, 50)."""
    preconds = ["ilu"] + (["amg"] if have_pyamg() else [])
    out = [(p, args.restart, args.recycle, 1) for p in preconds]
    if name == "helmholtz":
        out.append(("jacobi", 100, 50, args.repeats))
    return out


def part_a(args) -> list[str]:
    res, n = args.resolution, args.systems
    cases = [
        ("darcy", {"resolution": res}, "Darcy 12/3"),
        *[("helmholtz", {"resolution": res, "k0": k0}, f"Helmholtz k0={k0:g}") for k0 in args.wavenumbers],
        ("heat", {"resolution": res, "n_steps": args.heat_steps}, f"heat ({args.heat_steps} steps)"),
    ]
    lines = [
        f"Part A: {n} systems per problem ({n} x {args.heat_steps} for heat) on {res}x{res} nodes; ILU drop "
        f"{args.ilu_drop} fill {args.ilu_fill}; iteration cap {args.maxiter} products per system"
        + ("" if have_pyamg() else "; AMG skipped (pyamg not importable)")
        + f". Wall: one run, median of {args.repeats} for the Helmholtz Jacobi rows.",
        "",
        "| problem | precond | (m, k) | rtol | method | matvecs | matvecs/system | wall s | not converged | "
        "GMRES/this matvecs | GMRES/this wall |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, settings, label in cases:
        direct = run(name, settings, METHODS["direct"], n, args.repeats)
        lines.append(f"| {label} | - | - | - | direct | - | - | {direct['wall']:.2f} | 0 | - | - |")
        print(lines[-1], flush=True)
        for precond, restart, recycle, repeats in configurations(name, args):
            for rtol in args.rtols:
                rows = {}
                for method, options in METHODS.items():
                    if method == "direct":
                        continue
                    solver = {
                        **options,
                        "rtol": rtol,
                        "restart": restart,
                        "recycle": recycle,
                        "precond": precond,
                        "ilu_drop": args.ilu_drop,
                        "ilu_fill": args.ilu_fill,
                        "maxiter": args.maxiter,
                    }
                    timed = repeats if method in ("gmres", "skr") else 1
                    rows[method] = run(name, settings, solver, n, timed)
                base = rows["gmres"]
                for method, r in rows.items():
                    systems = n * (args.heat_steps if name == "heat" else 1)
                    lines.append(
                        f"| {label} | {precond} | ({restart}, {recycle}) | {rtol:g} | {method} | {r['matvecs']} | "
                        f"{r['matvecs'] / systems:.1f} | {r['wall']:.2f} | {r['failed']} | "
                        f"{base['matvecs'] / max(r['matvecs'], 1):.2f} | {base['wall'] / r['wall']:.2f} |"
                    )
                    print(lines[-1], flush=True)
    return lines


def part_a_large(args) -> list[str]:
    """Helmholtz k0 = 16 with Jacobi on a finer grid and more systems (closer to the issue's scale)."""
    res, n = args.large_resolution, args.large_systems
    settings = {"resolution": res, "k0": 16.0}
    lines = [
        f"Part A, larger: Helmholtz k0=16, {n} systems on {res}x{res} nodes, Jacobi, GCRO-DR(100, 50), "
        f"rtol 1e-6, one run each.",
        "",
        "| method | matvecs | matvecs/system | wall s | not converged | GMRES/this matvecs | GMRES/this wall |",
        "|---|---|---|---|---|---|---|",
    ]
    direct = run("helmholtz", settings, METHODS["direct"], n)
    lines.append(f"| direct | - | - | {direct['wall']:.2f} | 0 | - | - |")
    rows = {}
    for method, options in METHODS.items():
        if method != "direct":
            solver = {**options, "rtol": 1e-6, "restart": 100, "recycle": 50, "precond": "jacobi"}
            rows[method] = run("helmholtz", settings, {**solver, "maxiter": args.maxiter}, n)
    for method, r in rows.items():
        base = rows["gmres"]
        lines.append(
            f"| {method} | {r['matvecs']} | {r['matvecs'] / n:.1f} | {r['wall']:.2f} | {r['failed']} | "
            f"{base['matvecs'] / max(r['matvecs'], 1):.2f} | {base['wall'] / r['wall']:.2f} |"
        )
        print(lines[-1], flush=True)
    return lines


def train_fno(a, u, a_test, u_test, seed: int, epochs: int) -> float:
    from specops import create_model
    from specops.losses import LpLoss

    torch.manual_seed(seed)
    model = create_model("fno", n_modes=(8, 8), hidden_channels=16, n_layers=4)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    loss_fn = LpLoss()
    mean, std = a.mean(), a.std()
    scale = u.std()
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(a), generator=generator).split(16):
            opt.zero_grad()
            loss = loss_fn(model((a[idx] - mean) / std) * scale, u[idx])
            loss.backward()
            opt.step()
        sched.step()
    with torch.no_grad():
        return float(loss_fn(model((a_test - mean) / std) * scale, u_test))


def part_b(args) -> list[str]:
    res, n_train, n_test = args.fno_resolution, args.fno_train, args.fno_test
    direct = make_problem("darcy", resolution=res, solver={"method": "direct"})
    skr = make_problem(
        "darcy",
        resolution=res,
        solver={"method": "skr", "rtol": 1e-6, "restart": args.restart, "recycle": args.recycle},
    )
    seeds = list(range(n_train))
    test_seeds = list(range(10_000, 10_000 + n_test))
    d_train = direct.generate(seeds)
    s_train, info = skr.generate_with_info(seeds)
    test = direct.generate(test_seeds)
    gap = ((s_train["u"] - d_train["u"]).flatten(1).norm(dim=1) / d_train["u"].flatten(1).norm(dim=1)).max()
    errors = {
        "direct data, model seed 0": train_fno(
            d_train["a"], d_train["u"], test["a"], test["u"], 0, args.epochs
        ),
        "SKR data (rtol 1e-6), model seed 0": train_fno(
            s_train["a"], s_train["u"], test["a"], test["u"], 0, args.epochs
        ),
        "direct data, model seed 1": train_fno(
            d_train["a"], d_train["u"], test["a"], test["u"], 1, args.epochs
        ),
    }
    lines = [
        f"Part B: FNO (modes 8, width 16, 4 layers, {args.epochs} epochs, Adam 3e-3 cosine) on Darcy "
        f"{res}x{res}, {n_train} training samples, {n_test} direct-solver test samples. Largest relative "
        f"difference between SKR and direct training targets: {float(gap):.2e} (max residual "
        f"{info['residual'].max():.1e}).",
        "",
        "| training data | test rel. L2 |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v:.4f} |" for k, v in errors.items()]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.small:
        sizes = dict(resolution=17, systems=6, wavenumbers=[5.0], heat_steps=2, rtols=[1e-6], repeats=1)
        sizes.update(large_resolution=17, large_systems=6)
        sizes.update(fno_resolution=17, fno_train=16, fno_test=8, epochs=2)
    else:
        sizes = dict(
            resolution=33, systems=64, wavenumbers=[8.0, 16.0], heat_steps=5, rtols=[1e-6, 1e-8], repeats=3
        )
        sizes.update(large_resolution=49, large_systems=96)
        sizes.update(fno_resolution=33, fno_train=200, fno_test=50, epochs=40)
    for key, value in sizes.items():
        setattr(args, key, value)
    args.restart, args.recycle, args.ilu_drop, args.ilu_fill, args.maxiter = 60, 20, 1e-2, 2.0, 3000
    start = time.perf_counter()
    print(f"host: {platform.processor() or platform.machine()}, torch {torch.__version__}, 1 thread")
    lines = part_a(args)
    lines += ["", *part_a_large(args)]
    lines += ["", *part_b(args)]
    print("\n".join(lines))
    print(f"total wall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
