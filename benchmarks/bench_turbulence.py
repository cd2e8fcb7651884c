"""Decaying 3D turbulence on an LES grid: filtered DNS vs classical LES vs learned models (not a test).

    PYTHONPATH=src python benchmarks/bench_turbulence.py            # full run (<= 20 min on 1 CPU thread)
    PYTHONPATH=src python benchmarks/bench_turbulence.py --quick    # smoke run, tiny sizes

Truth: DNS of decaying HIT (``hit-decaying``: ``E(k) ~ k^4 exp(-2 (k/4)^2)``, ``E_0 = 0.5``, ``nu = 0.02``) on
32^3, box-filtered onto the 16^3 LES grid every 0.1 time units (``FilteredDNSProblem``). Compared from
the same filtered initial fields of the test trajectories:

- Smagorinsky LES (``C_s^2 = 0.01``) and dynamic Smagorinsky LES (Germano-Lilly) on 16^3;
- data-driven FNO and IFNO (one step of 0.1, increments, relative L2 on the training pairs);
- LESnets with FNO and IFNO: blocks of 5 frames of 0.1, trained on the LES residual (``LESResidual``,
  Smagorinsky ``C_s^2 = 0.01``, central differences, divergence penalty) with no labels: the training
  trajectories' filtered states are used as initial fields only;
- IFactFormer-m and -o (parallel / chained axis kernels), one step of 0.1, as FNO.

Reported over the rollout (``T = 5`` large-eddy turnover times ``L / u'`` of the initial field): kinetic
energy and resolved dissipation curves, spectra at three times (figure), velocity-increment PDFs (L1
distance to the truth's histogram, flatness), relative L2 at short times, wall time per simulated time
unit (one trajectory, from a batch). The wall-bounded channel flow of IFactFormer-m's paper needs a solver
specops does not have; it is not substituted.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path

import torch

from specops import create_model
from specops.metrics import energy_spectrum
from specops.physics.les import LESResidual, les_equation
from specops.solvers.integrate import integrate
from specops.solvers.les import DynamicSmagorinsky, Smagorinsky
from specops.solvers.navier_stokes3d import NavierStokes3D
from specops.solvers.problems import make_problem
from specops.training.lesnets import BlockModel, train_lesnets

L = 2 * math.pi


def integral_time(u: torch.Tensor, eq: NavierStokes3D) -> float:
    """``L / u'`` with ``L = (3 pi / 4) int E(k) / k dk / int E dk`` and ``u' = (2 E / 3)^(1/2)`` (mean over samples)."""
    k, e = energy_spectrum(u, length=L)
    e = e.mean(0)
    scale = 0.75 * math.pi * float((e[1:] / k[1:]).sum() / e[1:].sum())
    return scale / math.sqrt(2 * float(eq.energy(u).mean()) / 3)


def dns_trajectories(sizes, seeds):
    problem = make_problem(
        "hit-fdns",
        viscosity=sizes["nu"],
        resolution=sizes["dns"],
        les_grid=sizes["les"],
        t_final=sizes["t_final"],
        save_interval=sizes["interval"],
        dt=sizes["dns_dt"],
    )
    start = time.perf_counter()
    traj = problem.generate(seeds, dtype=torch.float32)["u"]
    seconds = time.perf_counter() - start
    return traj, seconds


def les_run(closure, u0, sizes):
    eq = NavierStokes3D(sizes["les"], sizes["nu"], closure)
    times = [i * sizes["interval"] for i in range(sizes["frames"] + 1)]
    start = time.perf_counter()
    traj = integrate(eq, u0, times, stepper="crank_nicolson_rk4", dt=sizes["les_dt"]).states
    return traj, time.perf_counter() - start


def train_one_step(model: BlockModel, pairs_in, pairs_out, steps: int, lr: float, batch: int, seed: int = 0):
    """Adam on the relative L2 error of one step (``pairs_out (N, 1, 3, *s)``), cosine schedule."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        index = torch.randint(pairs_in.shape[0], (batch,), generator=generator)
        pred, target = model(pairs_in[index]), pairs_out[index]
        loss = ((pred - target).flatten(1).norm(dim=1) / target.flatten(1).norm(dim=1)).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()


def rollout(model: BlockModel, u0: torch.Tensor, frames: int):
    model.eval()
    start = time.perf_counter()
    traj = model.rollout(u0, math.ceil(frames / model.frames))[:, : frames + 1]
    return traj, time.perf_counter() - start


def statistics_of(traj: torch.Tensor, truth: torch.Tensor, eq: NavierStokes3D, spectrum_frames):
    b, t = traj.shape[:2]
    flat = traj.reshape(b * t, *traj.shape[2:]).double()
    energy = eq.energy(flat).reshape(b, t).mean(0)
    dissipation = eq.dissipation(flat).reshape(b, t).mean(0)
    spectra = [energy_spectrum(traj[:, i].double(), length=L)[1].mean(0) for i in spectrum_frames]
    truth_spectra = [energy_spectrum(truth[:, i].double(), length=L)[1].mean(0) for i in spectrum_frames]
    spectrum_error = [float((s - r).abs().sum() / r.sum()) for s, r in zip(spectra, truth_spectra)]
    last = traj[:, -1].double()
    du = (torch.roll(last[:, 0], -1, dims=1) - last[:, 0]).flatten()
    ref = truth[:, -1, 0].double()
    dref = (torch.roll(ref, -1, dims=1) - ref).flatten()
    bins = torch.linspace(-6, 6, 49, dtype=torch.float64)
    sigma = float(dref.std())
    hist = torch.histogram(du / sigma, bins=bins, density=True)[0]
    href = torch.histogram(dref / sigma, bins=bins, density=True)[0]
    pdf_l1 = float((hist - href).abs().sum() * (bins[1] - bins[0]))
    flatness = float((du**4).mean() / (du**2).mean() ** 2)
    rel = [
        float(
            ((traj[:, i] - truth[:, i]).flatten(1).norm(dim=1) / truth[:, i].flatten(1).norm(dim=1)).median()
        )
        for i in (1, 5, 10)
    ]
    energy_truth = eq.energy(truth.reshape(b * t, *truth.shape[2:]).double()).reshape(b, t).mean(0)
    return {
        "energy": energy,
        "dissipation": dissipation,
        "spectra": spectra,
        "spectrum_error": spectrum_error,
        "pdf_l1": pdf_l1,
        "flatness": flatness,
        "rel_l2": rel,
        "energy_dev": float((energy / energy_truth - 1).abs().max()),
        "finite": bool(torch.isfinite(traj).all()),
    }


def plot(results, times, spectrum_frames, k, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no figure")
        return
    fig, axes = plt.subplots(1, 5, figsize=(22, 4))
    for name, r in results.items():
        style = "k-" if name == "filtered DNS" else "-"
        axes[0].plot(times, r["energy"], style, label=name)
        axes[1].plot(times, r["dissipation"], style, label=name)
        for j, frame in enumerate(spectrum_frames):
            axes[2 + j].loglog(k[1:], r["spectra"][j][1:], style, label=name)
            axes[2 + j].set_title(f"E(k) at t = {times[frame]:.1f}")
    axes[0].set_title("kinetic energy")
    axes[1].set_title("resolved dissipation")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    print(f"figure: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a smoke run")
    parser.add_argument("--figure", default="benchmarks/figures/turbulence.png")
    parser.add_argument("--train", type=int, default=6, help="training trajectories")
    parser.add_argument("--test", type=int, default=6, help="test trajectories")
    parser.add_argument("--steps", type=int, default=200, help="training steps of the one-step models")
    parser.add_argument("--lesnets-steps", type=int, default=150, help="training steps of LESnets")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    sizes = {"dns": 32, "les": 16, "nu": 0.02, "interval": 0.1, "dns_dt": 0.02, "les_dt": 0.05}
    sizes.update(train=args.train, test=args.test, steps=args.steps, lesnets_steps=args.lesnets_steps)
    sizes.update(block=5, batch=4, width=16, modes=8)
    if args.quick:
        sizes.update(dns=16, les=8, train=2, test=2, steps=4, lesnets_steps=4, width=4, modes=3)
    started = time.perf_counter()

    # the rollout length: 5 large-eddy turnover times of the initial field
    probe = make_problem("hit-decaying", resolution=sizes["dns"], viscosity=sizes["nu"])
    u_probe = probe.initial_condition.sample(range(4), dtype=torch.float64)
    t_eddy = integral_time(u_probe, probe.equation)
    frames = math.ceil(5 * t_eddy / sizes["interval"] - 1e-9)
    sizes.update(frames=frames, t_final=frames * sizes["interval"])
    print(
        f"large-eddy turnover time L/u' = {t_eddy:.3f}; rollout {frames} frames to t = {sizes['t_final']:.1f}"
    )

    test_traj, dns_seconds = dns_trajectories(sizes, list(range(1000, 1000 + sizes["test"])))
    train_traj, _ = dns_trajectories(sizes, list(range(sizes["train"])))
    print(
        f"DNS: {dns_seconds:.1f} s for {sizes['test']} test trajectories ({time.perf_counter() - started:.0f} s so far)"
    )
    eq = NavierStokes3D(sizes["les"], sizes["nu"])
    u0 = test_traj[:, 0]
    runs, seconds = {"filtered DNS": test_traj}, {"DNS (32^3)" if not args.quick else "DNS": dns_seconds}
    for name, closure in (
        ("Smagorinsky LES", Smagorinsky(0.01)),
        ("dynamic Smagorinsky LES", DynamicSmagorinsky()),
    ):
        runs[name], seconds[name] = les_run(closure, u0, sizes)

    n = sizes["les"]
    pairs_in = train_traj[:, :-1].reshape(-1, 3, n, n, n)
    pairs_out = train_traj[:, 1:].reshape(-1, 1, 3, n, n, n)
    modes = (sizes["modes"],) * 3
    width = sizes["width"]
    data_models = {
        "FNO": lambda c: create_model(
            "fno", n_modes=modes, in_channels=3, out_channels=c, hidden_channels=width, n_layers=4
        ),
        "IFNO": lambda c: create_model(
            "ifno", n_modes=modes, in_channels=3, out_channels=c, hidden_channels=width, n_layers=8
        ),
    }
    for name in ("FNO", "IFNO", "IFactFormer-m", "IFactFormer-o"):
        torch.manual_seed(0)
        if name.startswith("IFactFormer"):
            preset = "ifactformer-m-3d" if name.endswith("m") else "ifactformer-o-3d"
            net = create_model(preset, hidden_channels=width, n_layers=4, heads=2, head_channels=8)
        else:
            net = data_models[name](3)
        model = BlockModel(net, 1)
        t0 = time.perf_counter()
        train_one_step(model, pairs_in, pairs_out, sizes["steps"], 3e-3, sizes["batch"])
        print(
            f"{name}: trained in {time.perf_counter() - t0:.0f} s ({time.perf_counter() - started:.0f} s so far)"
        )
        runs[name], seconds[name] = rollout(model, u0, frames)
    residual = LESResidual(les_equation(n, sizes["nu"], 0.01), sizes["interval"], "central")
    initial_fields = train_traj.reshape(-1, 3, n, n, n)  # states only: no target is used
    for name in ("FNO", "IFNO"):
        torch.manual_seed(0)
        model = BlockModel(data_models[name](3 * sizes["block"]), sizes["block"])
        t0 = time.perf_counter()
        history = train_lesnets(
            model,
            initial_fields,
            residual,
            steps=sizes["lesnets_steps"],
            lr=3e-3,
            batch_size=sizes["batch"],
            milestones=[int(0.6 * sizes["lesnets_steps"])],
        )
        print(
            f"LESnets-{name}: residual {history[0]:.3g} -> {statistics.mean(history[-10:]):.3g} in "
            f"{time.perf_counter() - t0:.0f} s ({time.perf_counter() - started:.0f} s so far)"
        )
        runs[f"LESnets-{name}"], seconds[f"LESnets-{name}"] = rollout(model, u0, frames)

    times = [i * sizes["interval"] for i in range(frames + 1)]
    spectrum_frames = [frames // 5, frames // 2, frames]
    results = {name: statistics_of(traj, test_traj, eq, spectrum_frames) for name, traj in runs.items()}
    per_unit = {name: s / (sizes["test"] * sizes["t_final"]) for name, s in seconds.items()}
    dns_unit = next(v for k, v in per_unit.items() if k.startswith("DNS"))
    print(f"\nsizes: {sizes}\n")
    print(
        "| model | rel. L2 t=0.1 / 0.5 / 1.0 | spectrum error at t = "
        + " / ".join(f"{times[f]:.1f}" for f in spectrum_frames)
        + " | max energy deviation | increment PDF L1 | flatness | s per time unit | DNS / model |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        unit = per_unit.get(name)
        cost = "" if unit is None else f"{unit:.3g}"
        ratio = "" if unit is None else f"{dns_unit / unit:.1f}x"
        rel = " / ".join(f"{v:.3g}" for v in r["rel_l2"]) if name != "filtered DNS" else ""
        spec = " / ".join(f"{v:.3g}" for v in r["spectrum_error"])
        flag = "" if r["finite"] else " (NaN)"
        print(
            f"| {name}{flag} | {rel} | {spec} | {r['energy_dev']:.3g} | {r['pdf_l1']:.3g} | {r['flatness']:.3g} | {cost} | {ratio} |"
        )
    print(f"| DNS (solver of the truth) | | | | | | {dns_unit:.3g} | 1x |")
    print("\nenergy E(t) (mean over test trajectories), every 1.0:")
    step = max(1, round(1.0 / sizes["interval"]))
    for name, r in results.items():
        print(f"  {name:24s} " + " ".join(f"{float(v):.4f}" for v in r["energy"][::step]))
    print("resolved dissipation, every 1.0:")
    for name, r in results.items():
        print(f"  {name:24s} " + " ".join(f"{float(v):.4f}" for v in r["dissipation"][::step]))
    dsm = statistics.mean(results["dynamic Smagorinsky LES"]["spectrum_error"])
    for name in ("LESnets-FNO", "LESnets-IFNO"):
        mine = statistics.mean(results[name]["spectrum_error"])
        print(
            f"target LESnets spectrum error <= DSM: {name} {mine:.3g} vs {dsm:.3g}: {'met' if mine <= dsm else 'NOT met'}"
        )
    dev = results["IFactFormer-m"]["energy_dev"]
    print(
        f"target IFactFormer-m energy within 10% over the rollout: max deviation {dev:.3g}: {'met' if dev <= 0.1 else 'NOT met'}"
    )
    learned = [k for k in per_unit if k.startswith(("FNO", "IFNO", "IFactFormer", "LESnets"))]
    slow = [k for k in learned if dns_unit / per_unit[k] < 10]
    print(
        f"target every learned model >= 10x faster than the DNS: {'met' if not slow else 'NOT met: ' + ', '.join(slow)}"
    )
    k = energy_spectrum(test_traj[:, 0].double(), length=L)[0]
    if not args.quick:
        plot(results, times, spectrum_frames, k, Path(args.figure))
    print(f"total wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
