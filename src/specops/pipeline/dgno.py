"""``specops train-dgno`` and ``specops invert``: label-free DGNO training on a Darcy file; the inverse problem.

``train_dgno`` reads only the coefficients ``a`` of a Darcy file (never ``u``) and the source ``f`` from its
metadata; ``invert`` observes ``u`` of the first samples at random nodes with relative noise, samples the
posterior of the coefficient (``specops.assimilation.inverse``) and reports the relative L2 error of the
posterior mean of ``a`` and of ``u``, and the mean posterior standard deviation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from specops.assimilation.inverse import sample_posterior
from specops.atomic import atomic_path
from specops.data.io import read_info
from specops.data.schema import check_usable
from specops.models.dgno import DGNO, darcy_scales, node_points
from specops.values import ConfigError


def _darcy(path: str | os.PathLike, fields: tuple[str, ...]) -> tuple[dict[str, torch.Tensor], float]:
    info = read_info(path)
    check_usable(info.attrs, path)
    missing = [f for f in fields if f not in info.fields]
    if info.attrs.get("pde") != "darcy" or missing:
        raise ConfigError(
            f"{path} is not a Darcy file with fields {list(fields)} (pde={info.attrs.get('pde')!r}, fields "
            f"{sorted(info.fields)}): generate one with `specops generate darcy`"
        )
    params = (info.attrs.get("parameters") or {}).get("parameters") or {}
    forcing = params.get("forcing", 1.0)
    if not isinstance(forcing, (int, float)):
        raise ConfigError(f"{path}: DGNO needs a constant source f; the file records forcing={forcing!r}")
    with h5py.File(path, "r") as h5:
        return {f: torch.from_numpy(np.asarray(h5["fields"][f])) for f in fields}, float(forcing)


def train_dgno(
    data_path: str | os.PathLike,
    out: str | os.PathLike,
    *,
    epochs: int = 100,
    batch_size: int = 25,
    lr: float = 5e-4,
    latent: int = 128,
    width: int = 100,
    centres: int = 100,
    radius: float = 0.05,
    flux_weight: float = 30.0,
    latent_penalty: float = 1e-2,
    interpolation: str = "nearest",
    seed: int = 0,
    overwrite: bool = False,
    log: Callable[[str], None] = print,
) -> DGNO:
    """Train a DGNO on the coefficients of ``data_path`` without their solutions; save it to ``out``.

    The model's output scales are :func:`~specops.models.dgno.darcy_scales` of the file's ``f`` and ``a``;
    ``flux_weight``, ``latent_penalty`` and ``interpolation`` are those of ``fit_dgno`` / ``WeakDarcyResidual``.
    """
    from specops.models.serialization import save
    from specops.physics.weak import WeakDarcyResidual
    from specops.seeding import seed_everything
    from specops.training.dgno import fit_dgno

    if Path(out).exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it or choose another --out")
    fields, forcing = _darcy(data_path, ("a",))
    a = fields["a"].float()
    seed_everything(int(seed))
    lo, hi = float(a.min()), float(a.max())
    if not hi > lo:
        raise ConfigError(f"{data_path}: the coefficient is constant ({lo}); DGNO reconstructs a varying a")
    u_scale, flux_scale = darcy_scales(forcing, (lo, hi))
    model = DGNO(
        lattice=a.shape[-1],
        latent=latent,
        width=width,
        a_range=(lo, hi),
        u_scale=u_scale,
        flux_scale=flux_scale,
    )
    residual = WeakDarcyResidual(forcing, n_centres=centres, radius=radius, flux_weight=flux_weight)
    log(
        f"DGNO: {sum(p.numel() for p in model.parameters())} parameters, {a.shape[0]} coefficient fields, f={forcing}"
    )
    fit_dgno(
        model, a, residual, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, interpolation=interpolation,
        latent_penalty=latent_penalty, log=log,
    )  # fmt: skip
    save(model, out)
    return model


def invert(
    model_path: str | os.PathLike,
    data_path: str | os.PathLike,
    *,
    sensors: int,
    noise: float,
    cases: int = 4,
    samples: int = 16,
    steps: int = 300,
    seed: int = 0,
    out: str | os.PathLike | None = None,
    overwrite: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Recover ``a`` of the first ``cases`` samples from ``sensors`` noisy values of ``u`` each.

    ``samples`` posterior chains of ``steps`` MAP (Adam) steps and 100 Langevin steps each.
    """
    from specops.models.serialization import load

    if out is not None and Path(out).exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it or choose another --out")
    if not noise > 0:
        raise ConfigError(f"noise={noise} must be > 0 (relative std of the measurements, 0.01 for 1 %)")
    model = load(model_path).eval()
    if not isinstance(model, DGNO):
        raise ConfigError(
            f"{model_path} holds a {type(model).__name__}, not a DGNO (write one with specops train-dgno)"
        )
    fields, _ = _darcy(data_path, ("a", "u"))
    a, u = fields["a"].float(), fields["u"].float()
    n = a.shape[-1]
    if not 1 <= int(sensors) <= n * n:
        raise ConfigError(f"sensors={sensors} must be between 1 and the {n * n} nodes of the grid")
    rng = np.random.default_rng(int(seed))
    nodes = node_points(n, torch.float32)
    rows = []
    for i in range(min(int(cases), a.shape[0])):
        idx = torch.from_numpy(rng.choice(n * n, int(sensors), replace=False))
        truth = u[i, 0].reshape(-1)
        sigma = float(noise) * float(truth.pow(2).mean().sqrt())
        y = truth[idx] + sigma * torch.randn(
            int(sensors), generator=torch.Generator().manual_seed(int(seed) + i)
        )
        post = sample_posterior(
            model, nodes[idx], y, sigma, n_grid=n, samples=samples, map_steps=steps, seed=int(seed) + i
        )
        rows.append(
            {
                "sample": i,
                "a_error": float((post.a_mean - a[i, 0]).norm() / a[i, 0].norm()),
                "u_error": float((post.u_mean - u[i, 0]).norm() / u[i, 0].norm()),
                "a_std_mean": float(post.a_std.mean()),
            }
        )
        log(
            f"sample {i}: a error {rows[-1]['a_error']:.3e}, u error {rows[-1]['u_error']:.3e}, std {rows[-1]['a_std_mean']:.3e}"
        )
    results = {
        "model": str(model_path),
        "data": str(data_path),
        "sensors": int(sensors),
        "noise": noise,
        "cases": rows,
    }
    if out is not None:
        with atomic_path(out) as tmp:
            tmp.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return results
