"""Spectral-Refiner: fine-tune the last layer of a trained space-time FNO by the H^-1 norm of the PDE residual.

Cao, Brarda, Li & Xi, "Spectral-Refiner: Accurate Fine-Tuning of Spatiotemporal Fourier Neural Operator
for Turbulent Flows", ICLR 2025 (arXiv 2405.17211). For each input trajectory ``x``:

1. the trained SFNO's layers up to its output layer run once, frozen (the latent trajectory and the last
   input frame ``u_0``);
2. the output layer ``K_out`` is replaced by a non-truncated copy on the data's grid: every spatial mode
   up to ``n/2`` and every temporal mode of its padded time axis; the trained low modes are copied in,
   the rest start at zero, so the prediction is unchanged at step 0;
3. Adam minimises ``J = ||R(u)||`` over that layer only, with ``u = (u_0, u_1, .., u_M)`` the last input
   frame followed by the predicted frames and ``R`` the equation's residual (``specops.physics``):

       R_n = (u_{n+1} - u_n) / dt - (F(u_n) + F(u_{n+1})) / 2,   F(u) = N(u) + L u (+ f),
       ||R|| = ( (1/M) sum_n ||R_n||_{H^-1}^2 )^{1/2},   ||r||_{H^-1}^2 = |Omega| sum_k |r_k|^2 / (alpha + |2 pi k / L|^2).

The time derivative is the Crank-Nicolson (trapezoidal) difference of consecutive frames: the residual of
one implicit-explicit Crank-Nicolson step of the equation's own operators over the frame interval, with
the solver's 2/3 de-aliasing. Frames are not periodic in time, so a spectral time derivative would be
spoiled by the jump between the last and the first frame; and pinning ``u_0`` (a known frame) makes the
exact minimiser the Crank-Nicolson trajectory from the true state. The minimiser therefore carries that
scheme's ``O(dt^2)`` error at the frame interval: refinement cannot beat it. The ``H^-1`` norm (``alpha
= 0.1``) is the dual norm of ``H^1``, in which the paper shows the residual to be a reliable a-posteriori estimate of the error; it is
exact by Parseval.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from specops.layers.spacetime import SpaceTimeConv
from specops.models.normalization import FieldNormalization
from specops.physics.residuals import EvolutionResidual

REFINABLE = (
    "only runs of a space-time FNO can be refined (models sfno, sfno-1d, sfno-2d-ns: their last layer is a "
    "space-time spectral convolution); train one with `specops train --model sfno-2d-ns --mode autoregressive`"
)


def check_refinable(model: nn.Module) -> None:
    """Raise ``ValueError`` unless ``model`` has a space-time spectral output layer to refine."""
    layer = getattr(model, "out_conv", None)
    if not isinstance(layer, SpaceTimeConv) or not all(hasattr(model, a) for a in ("latent", "head")):
        name = getattr(model, "registry_name", "") or type(model).__name__
        raise ValueError(f"model {name!r} has no space-time spectral last layer: {REFINABLE}")


def relative_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per sample ``||pred - target|| / ||target||`` over all frames, channels and points (relative L2)."""
    diff = (pred - target).flatten(1).norm(dim=1)
    return diff / target.flatten(1).norm(dim=1).clamp_min(1e-300)


@dataclass
class Refinement:
    """What refinement did to a batch of trajectories.

    ``before``/``after``: predictions ``(batch, T_out, C, *space)`` in physical units; ``residual_*``:
    ``||R||`` per sample; ``error_*``: relative L2 against the target, when one was given; ``history``: per
    sample, the residual (and error) before each Adam step, then after the last.
    """

    before: torch.Tensor
    after: torch.Tensor
    residual_before: torch.Tensor
    residual_after: torch.Tensor
    error_before: torch.Tensor | None = None
    error_after: torch.Tensor | None = None
    history: list[dict[str, list[float]]] = field(default_factory=list)
    seconds: float = 0.0


class Refiner:
    """Fine-tune a trained SFNO's output layer on each trajectory by the ``H^-1`` residual norm.

    Parameters
    ----------
    model : SFNO
        The trained network (normalized units); it is copied, never changed.
    residual : EvolutionResidual
        The equation's residual (``specops.physics.residual_for_file``), with the frame interval ``dt``.
    normalization : FieldNormalization, optional
        The run's normalizers (``Predictor.normalization``); None: the network works in physical units.
    steps : int
        Adam iterations per trajectory (the paper: about 50; on ``benchmarks/bench_refiner.py`` 300 steps
        took a 7.8% error to 0.04%; on two of its trajectories 100 steps reached 2%).
    lr, weight_lr : float
        Adam learning rates of the layer's spectral source and bias, and of its spectral weights: absolute
        steps in the network's (normalized) units, cosine-decayed to zero. ``1e-2`` suits predictions
        about 10% off, ``1e-4`` predictions about 1% off.
    alpha, s : float
        The residual norm ``H^s`` with weights ``(alpha + |k|^2)^s`` (``s = -1``, ``alpha = 0.1``).
    time_modes : int, optional
        Temporal modes of the refined layer (default: all those of its padded time axis).
    dtype : torch.dtype
        Precision of the refinement (float64 by default, as the paper).
    """

    def __init__(
        self,
        model: nn.Module,
        residual: EvolutionResidual,
        *,
        normalization: FieldNormalization | None = None,
        steps: int = 200,
        lr: float = 1e-2,
        weight_lr: float = 1e-3,
        alpha: float = 0.1,
        s: float = -1.0,
        time_modes: int | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        check_refinable(model)
        if not isinstance(residual, EvolutionResidual):
            raise ValueError(
                f"residual={type(residual).__name__}: refinement needs the residual of a time-dependent equation "
                f"(an EvolutionResidual: burgers, kdv, ks, navier_stokes); Darcy flow has no time axis to refine"
            )
        if residual.ndim != model.dim:
            raise ValueError(f"the residual's equation is {residual.ndim}D but the model is {model.dim}D")
        for name, value in (("steps", steps), ("time_modes", 1 if time_modes is None else time_modes)):
            if int(value) < 1:
                raise ValueError(f"{name}={value} must be a positive integer")
        for name, value in (("lr", lr), ("weight_lr", weight_lr), ("alpha", alpha)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name}={value} must be a positive number")
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype={dtype} must be torch.float32 or torch.float64")
        self.model = copy.deepcopy(model).to(dtype).eval().requires_grad_(False)
        self.residual = residual
        self.normalization = copy.deepcopy(normalization or FieldNormalization()).to(dtype)
        self.steps, self.lr, self.weight_lr = int(steps), float(lr), float(weight_lr)
        self.alpha, self.s = float(alpha), float(s)
        self.time_modes = None if time_modes is None else int(time_modes)
        self.dtype = dtype

    def residual_norm(self, x_last: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
        """``||R||`` per sample of the trajectory ``(x_last, pred)`` (physical units, time on dim 1)."""
        r = self.residual(torch.cat([x_last, pred], dim=1))
        return self.residual.norm(r, s=self.s, alpha=self.alpha)

    def full_layer(self, latent: torch.Tensor) -> SpaceTimeConv:
        """A copy of the output layer keeping every mode of the grid of ``latent (B, C, *space, L)``:
        spatial modes up to ``n/2``, temporal modes of the padded time axis (or ``time_modes``)."""
        layer = copy.deepcopy(self.model.out_conv)
        steps = latent.shape[-1] * (2 if layer.temporal_padding else 1)
        space = tuple(latent.shape[2:-1])
        layer.n_modes = (*space, self.time_modes or steps)
        return layer.requires_grad_(True)

    def refine(
        self,
        x: torch.Tensor,
        target: torch.Tensor | None = None,
        *,
        out_steps: int | None = None,
        callback: Callable[[int, int, float, float | None], None] | None = None,
    ) -> Refinement:
        """Refine the predictions from input trajectories ``x (batch, T_in, C, *space)`` (physical units).

        ``target (batch, T_out, C, *space)``, optional, is used only to report errors. ``callback(sample,
        step, residual, error)`` is called before every step and after the last (``step = steps``).
        """
        model, norm = self.model, self.normalization
        if x.dim() != model.dim + 3:
            raise ValueError(
                f"x has shape {tuple(x.shape)}; refinement needs trajectories (batch, time, channel, "
                f"{model.dim} spatial axes): a data file of trajectories, not input/output pairs"
            )
        t0 = time.perf_counter()
        x = x.to(self.dtype)
        out_steps = model.out_steps if out_steps is None else int(out_steps)
        if target is not None:
            target = target.to(self.dtype)
            if (
                target.shape[0] != x.shape[0]
                or target.shape[2:] != x.shape[2:]
                or target.shape[1] != out_steps
            ):
                raise ValueError(
                    f"target has shape {tuple(target.shape)}; expected ({x.shape[0]}, {out_steps}, "
                    f"{', '.join(str(n) for n in x.shape[2:])})"
                )
        x_last = x[:, -1:]
        with torch.no_grad():
            latent, last = model.latent(norm.encode_input(x))
            before = norm.decode_output(model.head(latent, last, out_steps))
            res_before = self.residual_norm(x_last, before)
        after, res_after, history = [], [], []
        for i in range(x.shape[0]):
            pred, res, log = self._refine_one(
                latent[i : i + 1],
                last[i : i + 1],
                x_last[i : i + 1],
                out_steps,
                None if target is None else target[i : i + 1],
                i,
                callback,
            )
            after.append(pred)
            res_after.append(res)
            history.append(log)
        after_t = torch.cat(after)
        out = Refinement(before, after_t, res_before, torch.cat(res_after), history=history)
        if target is not None:
            out.error_before, out.error_after = (
                relative_error(before, target),
                relative_error(after_t, target),
            )
        out.seconds = time.perf_counter() - t0
        return out

    def _refine_one(self, latent, last, x_last, out_steps, target, index, callback):
        model, norm = self.model, self.normalization
        layer = self.full_layer(latent)
        sources = [p for p in (layer.source, layer.bias) if p is not None]
        weights = [p for p in layer.parameters() if all(p is not q for q in sources)]
        log: dict[str, list[float]] = {"residual": [], **({"error": []} if target is not None else {})}

        def evaluate() -> tuple[torch.Tensor, torch.Tensor]:
            pred = norm.decode_output(model.head(latent, last, out_steps, conv=layer))
            return pred, self.residual_norm(x_last, pred).sum()

        groups = [{"params": sources, "lr": self.lr}, {"params": weights, "lr": self.weight_lr}]
        optimizer = torch.optim.Adam([g for g in groups if g["params"]])
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, self.steps)

        def closure() -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            loss = evaluate()[1]
            loss.backward()
            return loss

        for step in range(self.steps + 1):
            with torch.no_grad():
                pred, loss = evaluate()
            err = relative_error(pred, target).item() if target is not None else None
            log["residual"].append(loss.item())
            if err is not None:
                log["error"].append(err)
            if callback is not None:
                callback(index, step, loss.item(), err)
            if step == self.steps:
                break
            optimizer.step(closure)
            schedule.step()
        return pred, loss.reshape(1), log
