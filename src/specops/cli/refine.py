"""``specops refine``: fine-tune a trained SFNO run's last layer by the H^-1 PDE residual (Spectral-Refiner)."""

from __future__ import annotations

import argparse

from specops.cli.common import positive_float, threads_option


def _physics_overrides(items: list[str]) -> dict:
    """``--set physics.KEY=VALUE`` items as the ``physics`` overrides of ``specops.physics.build``."""
    from specops.values import ConfigError, parse_assignment

    out: dict = {}
    for item in items:
        key, value = parse_assignment(item, "physics.nu=1e-3")
        head, _, rest = key.partition(".")
        if head != "physics" or not rest:
            raise ConfigError(
                f"--set {item}: refine takes physics.KEY=VALUE (pde, nu, lengths, dt, forcing, params.NAME), "
                f"the equation's parameters when the data's metadata lack them"
            )
        node = out
        *parents, last = rest.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def _cmd_refine(args: argparse.Namespace) -> int:
    from specops import pipeline

    pipeline.refine(
        args.run,
        args.data,
        out=args.out,
        checkpoint=args.checkpoint,
        samples=args.samples,
        start=args.start,
        steps=args.steps,
        lr=args.lr,
        weight_lr=args.weight_lr,
        alpha=args.alpha,
        float64=not args.float32,
        physics=_physics_overrides(args.set),
        device=args.device,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    return 0


def add_commands(sub) -> None:
    rf = sub.add_parser(
        "refine",
        parents=[threads_option()],
        help="refine an SFNO run's predictions by the H^-1 norm of the PDE residual (Spectral-Refiner)",
    )
    rf.add_argument("run", help="run directory of a space-time FNO (sfno) written by `specops train`")
    rf.add_argument("--data", required=True, help="trajectory file (.h5) whose trajectories to refine")
    rf.add_argument("--out", help="output directory (default RUN/refine)")
    rf.add_argument("--checkpoint", default=None, help="best (default, else last), last, or a path")
    rf.add_argument("--samples", type=int, help="refine the first N trajectories (default all)")
    rf.add_argument("--start", type=int, default=0, help="first input frame of each window (default 0)")
    rf.add_argument("--steps", type=int, default=200, help="Adam steps per trajectory (default 200)")
    rf.add_argument(
        "--lr", type=positive_float, default=1e-2, help="learning rate of the spectral source (1e-2)"
    )
    rf.add_argument(
        "--weight-lr", type=positive_float, default=1e-3, help="learning rate of the spectral weights (1e-3)"
    )
    rf.add_argument("--alpha", type=float, default=0.1, help="alpha of the H^-1 norm (default 0.1)")
    rf.add_argument("--float32", action="store_true", help="refine in float32 (default float64)")
    rf.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="physics.KEY=VALUE",
        help="the equation's parameters where the data's metadata lack them, e.g. physics.nu=1e-3",
    )
    rf.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 or auto (default cpu)")
    rf.add_argument("--overwrite", action="store_true", help="replace the outputs of an earlier refinement")
    rf.add_argument("--no-progress", action="store_true", help="no progress bar")
    rf.set_defaults(func=_cmd_refine)
