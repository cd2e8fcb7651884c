"""MG-TFNO benchmark: dense FNO, per-layer TFNO, joint TFNO and MG-TFNO on 2D turbulent Navier-Stokes.

Kossaifi et al., "Multi-Grid Tensorized Fourier Neural Operator for High-Resolution PDEs" (TMLR 2024):
"less than half FNO's error at over 150x fewer parameters, and 7x smaller input domain without loss".
Targets here (issue #10): MG-TFNO with at least 100x fewer parameters than the dense FNO and no higher
error; patching at least 3x lower peak activation memory per training sample at no more than 1.1x the
unpatched error.

Data: 2D Navier-Stokes vorticity, FNO forcing, nu = 1e-4 (``make_problem("ns", viscosity=1e-4,
resolution=128, t_final=4, save_interval=1, dt=5e-3)``), solved pseudo-spectrally on 128^2; training
pairs ``w(t) -> w(t + 1)`` for t = 1, 2, 3 subsampled to 64^2, test pairs at 64^2 (subsampled) and at
128^2 (as solved) from held-out trajectories. Every model: the same pairs, the same epochs, AdamW with a
cosine schedule, relative L2 loss on inputs/targets scaled by the training set's std, batch 16, seed 0.

Memory: peak bytes of live tensors during one training step (forward + backward), counted by a
``TorchDispatchMode`` that sees every operator (backward and checkpoint recomputation included) and
drops a storage when it dies; per sample = the slope between batch 2 and batch 4 (fixed costs such as
the weights' gradients cancel).

    PYTHONPATH=src python benchmarks/bench_mgtfno.py            # full run (~15 min on 1 free core; 23 min on a shared one)
    PYTHONPATH=src python benchmarks/bench_mgtfno.py --quick    # smoke run
    PYTHONPATH=src python benchmarks/bench_mgtfno.py --patch-training   # patch-level vs stitched training

``--patch-training``: the MG-TFNO trained by ``specops.training.Trainer`` on whole fields (stitched, batch
16 fields) and on (sample, patch) items (``PatchItems`` + ``PatchTask``, batch 64 patches: the same steps
and patches per step), and the unpatched joint TFNO for reference; peak memory per batch entry (a field,
or a patch item), time per epoch, and relative L2 of the stitched model on whole test fields.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

import specops
from specops.data.patches import PatchItems
from specops.models.patching import patch_cores
from specops.solvers.problems import make_problem
from specops.training import Trainer
from specops.training.patch_task import PatchTask
from specops.training.tasks import OperatorTask

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".work" / "mgtfno"


class PeakLiveBytes(TorchDispatchMode):
    """Peak bytes of the tensor storages that operators created and that are still alive."""

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, tuple[StorageWeakRef, int]] = {}
        self.current = 0
        self.peak = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        dead = [k for k, (ref, _) in self.live.items() if ref.expired()]
        for k in dead:  # first, so a freed address reused by a new storage counts again
            self.current -= self.live.pop(k)[1]
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and t.device.type == "cpu":
                storage = t.untyped_storage()
                ref = StorageWeakRef(storage)
                if ref.cdata not in self.live:
                    self.live[ref.cdata] = (ref, storage.nbytes())
                    self.current += storage.nbytes()
        self.peak = max(self.peak, self.current)
        return out


def make_data(n_train: int, n_test: int) -> dict[str, torch.Tensor]:
    """Trajectories at 128^2 (cached): train/test pairs at 64^2, test pairs at 128^2."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"ns1e-4_{n_train}_{n_test}.pt"
    if path.is_file():
        return torch.load(path)
    problem = make_problem("ns", viscosity=1e-4, resolution=128, t_final=4.0, save_interval=1.0, dt=5e-3)
    start = time.perf_counter()
    w = torch.cat(
        [
            problem.generate(list(range(i, min(i + 16, n_train + n_test))))["w"]
            for i in range(0, n_train + n_test, 16)
        ]
    )[:, :, 0]  # (samples, 5 times, 128, 128)
    print(f"data: {n_train + n_test} trajectories at 128^2 in {time.perf_counter() - start:.0f} s")

    def pairs(traj):
        x = traj[:, 1:4].reshape(-1, 1, *traj.shape[-2:])
        y = traj[:, 2:5].reshape(-1, 1, *traj.shape[-2:])
        return x, y

    xtr, ytr = pairs(w[:n_train, :, ::2, ::2])
    xte, yte = pairs(w[n_train:, :, ::2, ::2])
    xfine, yfine = pairs(w[n_train:])
    data = {"xtr": xtr, "ytr": ytr, "xte": xte, "yte": yte, "xfine": xfine, "yfine": yfine}
    torch.save(data, path)
    return data


LEAN = {  # the joint models' backbone: pointwise parts small enough for a >= 100x smaller model
    "lifting_channel_ratio": 1,
    "projection_channel_ratio": 1,
    "block": {"skip": "soft-gating"},
}


def models(width: int, modes: int, rank: float, patches: int, levels: int, padding: float) -> dict:
    joint = {"factorization": "tucker", "rank": rank, "joint_factorization": True}

    def tfno_joint(in_channels=1):
        return specops.create_model(
            "tfno",
            n_modes=[modes] * 2,
            hidden_channels=width,
            in_channels=in_channels,
            spectral=joint,
            **LEAN,
        )

    def mg(sequential):
        torch.manual_seed(0)
        inner = tfno_joint(levels + 1)
        return specops.MultigridPatching(
            inner, patches=patches, levels=levels, padding=padding, sequential=sequential
        )

    return {
        "FNO (dense)": lambda: specops.create_model("fno", n_modes=[modes] * 2, hidden_channels=width),
        "TFNO (per-layer Tucker 5%)": lambda: specops.create_model(
            "tfno", n_modes=[modes] * 2, hidden_channels=width, spectral={"rank": 0.05}
        ),
        f"TFNO (joint Tucker {rank:g})": tfno_joint,
        "MG-TFNO (joint + patches)": lambda: mg(False),
        "MG-TFNO, sequential patches": lambda: mg(True),
    }


def rel_l2(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return ((pred - y).flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1)).mean()


def peak_per_sample(build, shape) -> float:
    """Training-step peak live bytes per sample: slope between batch 2 and batch 4."""
    peaks = []
    for batch in (2, 4):
        model = build()
        x, y = torch.randn(batch, 1, *shape), torch.randn(batch, 1, *shape)
        with PeakLiveBytes() as mode:
            rel_l2(model(x), y).backward()
        peaks.append(mode.peak)
    return (peaks[1] - peaks[0]) / 2


def train(model, data, epochs: int, batch: int, lr: float, scale: float) -> tuple[list[float], float]:
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    n = data["xtr"].shape[0]
    steps = epochs * math.ceil(n / batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    gen = torch.Generator().manual_seed(0)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        for idx in torch.randperm(n, generator=gen).split(batch):
            loss = rel_l2(model(data["xtr"][idx] / scale), data["ytr"][idx] / scale)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        times.append(time.perf_counter() - start)
    return times, loss.item()


@torch.no_grad()
def test_error(model, x, y, scale) -> float:
    return float(
        torch.cat(
            [rel_l2(model(a / scale), b / scale)[None] for a, b in zip(x.split(16), y.split(16))]
        ).mean()
    )


class Scale(torch.nn.Module):
    """Fields divided by the training std (a normalizer for ``Trainer``: ``encode``/``decode``)."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x / self.scale

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class Pairs(torch.utils.data.Dataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "y": self.y[i]}


def peak_per_patch_item(build, shape) -> float:
    """Patch-level training-step peak live bytes per (sample, patch) item: slope between 2 and 4 items."""
    peaks = []
    for batch in (2, 4):
        model = build()
        x, y = torch.randn(batch, 1, *shape), torch.randn(batch, 1, *shape)
        positions = torch.arange(batch) % model.n_patches
        with PeakLiveBytes() as mode:
            rel_l2(model(x, positions=positions), patch_cores(y, model.patches, positions)).backward()
        peaks.append(mode.peak)
    return (peaks[1] - peaks[0]) / 2


def fit(model, data, *, items: bool, epochs: int, batch: int, lr: float, scale: float) -> float:
    """Train with the library's Trainer on whole fields (stitched) or on patch items; the last epoch's
    mean training loss."""
    train_set = Pairs(data["xtr"], data["ytr"])
    task = None
    if items:
        train_set = PatchItems(train_set, model.n_patches)
        task = PatchTask(OperatorTask(), model.patches)
    trainer = Trainer(
        model,
        specops.LpLoss(),
        torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4),
        lambda opt, total: torch.optim.lr_scheduler.CosineAnnealingLR(opt, total),
        task=task,
        x_normalizer=Scale(scale),
        y_normalizer=Scale(scale),
        epochs=epochs,
        batch_size=batch,
        seed=0,
        device="cpu",
        progress=False,
        tensorboard=False,
        log_every=10**6,
    )
    return trainer.fit(train_set)["train_loss"]


def patch_training(args) -> None:
    """Patch-level vs stitched training of the same MG-TFNO (and the unpatched joint TFNO)."""
    torch.set_num_threads(1)
    n_train, n_test = (16, 16) if args.quick else (120, 32)
    epochs = args.epochs or (1 if args.quick else 8)
    width, modes, rank, patches, levels, padding = 32, 16, 0.004, 2, 2, args.padding
    data = make_data(n_train, n_test)
    scale = float(data["xtr"].std())
    builders = models(width, modes, rank, patches, levels, padding)
    joint, mg = (
        next(k for k in builders if k.startswith("TFNO (joint")),
        builders["MG-TFNO (joint + patches)"],
    )
    runs = [  # the patch items' batch: the stitched batch's patches (the same steps, patches per step)
        (joint, builders[joint], False, 16, "field"),
        ("MG-TFNO, stitched training", mg, False, 16, "field"),
        ("MG-TFNO, patch-level training", mg, True, 16 * patches**2, "patch"),
    ]
    rows = []
    for name, build, items, batch, entry in runs:
        mem = (peak_per_patch_item if items else peak_per_sample)(build, (64, 64))
        torch.manual_seed(0)
        model = build()
        start = time.perf_counter()
        fit(model, data, items=items, epochs=epochs, batch=batch, lr=3e-3, scale=scale)
        per_epoch = (time.perf_counter() - start) / epochs
        model.eval()
        err = test_error(model, data["xte"], data["yte"], scale)
        err_fine = test_error(model, data["xfine"], data["yfine"], scale)
        rows.append((name, batch, entry, mem, per_epoch, err, err_fine))
        print(f"{name}: {mem / 2**20:.2f} MiB/{entry}, {per_epoch:.1f} s/epoch, {err:.4f} / {err_fine:.4f}")
    print()
    print("| training | batch | peak train memory / batch entry | s / epoch | rel. L2 64² | rel. L2 128² |")
    print("|---|---|---|---|---|---|")
    for name, batch, entry, mem, t, e, ef in rows:
        print(
            f"| {name} | {batch} {entry}{'es' if entry == 'patch' else 's'} | {mem / 2**20:.2f} MiB / {entry} | {t:.1f} | {e:.4f} | {ef:.4f} |"
        )
    unpatched, stitched, patch = rows
    print()
    print(
        f"patch-level vs stitched: memory per entry {stitched[3] / patch[3]:.2f}x lower, error ratio "
        f"{patch[5] / stitched[5]:.3f} (64²), {patch[6] / stitched[6]:.3f} (128²), time ratio {patch[4] / stitched[4]:.2f}"
    )
    print(
        f"patch-level vs unpatched joint TFNO: memory per entry {unpatched[3] / patch[3]:.2f}x lower, error ratio "
        f"{patch[5] / unpatched[5]:.3f} (64²)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--padding", type=float, default=1 / 32, help="patch overlap, fraction of the grid")
    parser.add_argument(
        "--patching-only",
        action="store_true",
        help="only the joint TFNO and the MG-TFNO rows (another padding)",
    )
    parser.add_argument(
        "--patch-training",
        action="store_true",
        help="patch-level (sample, patch) training vs stitched training of the MG-TFNO",
    )
    args = parser.parse_args()
    if args.patch_training:
        patch_training(args)
        return
    torch.set_num_threads(1)
    quick = args.quick
    n_train, n_test = (16, 16) if quick else (120, 32)
    epochs = args.epochs or (1 if quick else 20)
    width, modes, rank, patches, levels, padding = 32, 16, 0.004, 2, 2, args.padding
    data = make_data(n_train, n_test)
    scale = float(data["xtr"].std())
    print(
        f"pairs: train {tuple(data['xtr'].shape)}, test {tuple(data['xte'].shape)} and {tuple(data['xfine'].shape)}"
    )
    builders = models(width, modes, rank, patches, levels, padding)
    if args.patching_only:
        builders = {k: v for k, v in builders.items() if "joint" in k or "MG" in k}
    rows = []
    dense_params = specops.create_model("fno", n_modes=[modes] * 2, hidden_channels=width).n_parameters
    trained = {}
    for name, build in builders.items():
        torch.manual_seed(0)
        model = build()
        n_params = model.n_parameters
        mem = peak_per_sample(build, (64, 64))
        if name.endswith("sequential patches"):
            # the same network and weights as the batched MG-TFNO row (checkpointing changes only memory and
            # time): time one epoch here, errors from that row's trained weights
            base = trained["MG-TFNO (joint + patches)"]
            model.load_state_dict(base.state_dict())
            times, _ = train(model, data, 1, 16, 1e-3, scale)
            model.load_state_dict(base.state_dict())
        else:
            times, _ = train(model, data, epochs, 16, 3e-3, scale)
            trained[name] = model
        model.eval()
        err = test_error(model, data["xte"], data["yte"], scale)
        err_fine = test_error(model, data["xfine"], data["yfine"], scale)
        rows.append((name, n_params, dense_params / n_params, mem, statistics.median(times), err, err_fine))
        print(
            f"{name}: {n_params} params, {mem / 2**20:.1f} MiB/sample, {statistics.median(times):.1f} s/epoch, rel L2 {err:.4f} / {err_fine:.4f}",
            flush=True,
        )
    print()
    print(
        "| model | parameters | compression vs FNO | peak train memory / sample | s / epoch | rel. L2 64² | rel. L2 128² |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, n, comp, mem, t, e, ef in rows:
        print(f"| {name} | {n:,} | {comp:.1f}x | {mem / 2**20:.2f} MiB | {t:.1f} | {e:.4f} | {ef:.4f} |")
    by = {r[0]: r for r in rows}
    joint_name = next(n for n in by if n.startswith("TFNO (joint"))
    mg, seq, joint = by["MG-TFNO (joint + patches)"], by["MG-TFNO, sequential patches"], by[joint_name]
    print()
    if "FNO (dense)" in by:
        fno = by["FNO (dense)"]
        print(
            f"MG-TFNO vs FNO: {mg[2]:.1f}x fewer parameters, error ratio {mg[5] / fno[5]:.3f} (64²), "
            f"{mg[6] / fno[6]:.3f} (128²)"
        )
    print(
        f"patching (sequential) vs joint TFNO unpatched: memory {joint[3] / seq[3]:.2f}x lower, error ratio {mg[5] / joint[5]:.3f}"
    )
    print(f"patching (batched) vs joint TFNO unpatched: memory ratio {mg[3] / joint[3]:.2f}")
    for pad in (0.0, 1 / 32, 1 / 16):
        b = models(width, modes, rank, patches, levels, pad)
        m = peak_per_sample(b["MG-TFNO, sequential patches"], (64, 64))
        print(
            f"sequential patches, padding {pad:.4f}: {m / 2**20:.2f} MiB/sample, {joint[3] / m:.2f}x lower than unpatched"
        )


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"wall time {time.perf_counter() - start:.0f} s")
