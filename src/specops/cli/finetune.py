"""``specops finetune``: instance-wise fine-tuning of a trained run by the PDE residual (PINO)."""

from __future__ import annotations

import argparse

from specops.cli.common import positive_float, threads_option


def _cmd_finetune(args: argparse.Namespace) -> int:
    from specops.pipeline.finetune import finetune, finetune_table

    summary = finetune(
        args.run,
        args.data,
        steps=args.steps,
        lr=args.lr,
        anchor_weight=args.anchor,
        n_samples=args.samples,
        overrides=args.set,
        overwrite=args.overwrite,
    )
    print(finetune_table(summary))
    print(f"results: {args.run}/finetune.json")
    return 0


def add_commands(sub) -> None:
    ft = sub.add_parser(
        "finetune",
        parents=[threads_option()],
        help="fine-tune a trained run on each test instance by its PDE residual; error before/after",
    )
    ft.add_argument("run", help="run directory written by `specops train`")
    ft.add_argument(
        "--data", required=True, help="instances (.h5); the run's training file means its test split"
    )
    ft.add_argument("--steps", type=int, required=True, help="Adam steps per instance")
    ft.add_argument("--lr", type=positive_float, default=1e-4, help="learning rate (default 1e-4)")
    ft.add_argument(
        "--anchor", type=float, default=None, help="anchor weight (default physics.anchor_weight)"
    )
    ft.add_argument("--samples", type=int, default=None, help="fine-tune at most this many instances")
    ft.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="physics.KEY=VALUE",
        help="change a physics setting, e.g. physics.nu=0.01",
    )
    ft.add_argument("--overwrite", action="store_true", help="replace an existing RUN/finetune.json")
    ft.set_defaults(func=_cmd_finetune)
