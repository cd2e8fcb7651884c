"""``specops train | evaluate``: the training commands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from specops.cli.common import positive_float, threads_option
from specops.cli.online import add_online_options, online_overrides


def _train_overrides(args: argparse.Namespace) -> list[str]:
    """The common settings given as their own flags, as dotted overrides (applied before --set)."""
    import yaml

    pairs = [
        ("data.path", args.data),
        ("model.name", args.model),
        ("run_dir", args.out),
        ("train.epochs", args.epochs),
        ("train.batch_size", args.batch_size),
        ("optim.lr", args.lr),
        ("train.device", args.device),
        ("train.mode", args.mode),
    ]
    out = [f"{key}={value}" for key, value in pairs if value is not None]
    if args.test_data:
        out.append(f"data.test_paths={yaml.safe_dump(list(args.test_data), default_flow_style=True).strip()}")
    return out + online_overrides(args) + list(args.set)


def _cmd_train(args: argparse.Namespace) -> int:
    from specops import pipeline
    from specops.config import load_config
    from specops.data.buffer import StreamError
    from specops.evaluation.report import results_table
    from specops.training.distributed import init_distributed, shutdown
    from specops.training.interrupt import TrainingInterrupted

    cfg = load_config(args.config, _train_overrides(args))
    dist = init_distributed()  # one process unless launched by torchrun
    try:
        out = pipeline.train(
            cfg, resume=args.resume, overwrite=args.overwrite, evaluate_after=not args.no_eval, dist=dist
        )
    except TrainingInterrupted as exc:
        hint = f" (specops train ... --out {cfg.run_dir} --resume)" if exc.checkpoint is not None else ""
        print(f"\nspecops train: {exc}{hint}", file=sys.stderr)
        return 130
    except (StreamError, ImportError) as exc:  # online: every solver worker died, or Ray is missing
        print(f"specops train: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before training started (nothing written yet), or a second Ctrl-C
        last = Path(cfg.run_dir) / "checkpoints" / "last.pt"
        kept = f"; the last checkpoint is {last}" if last.is_file() else "; nothing was written"
        print(f"\nspecops train: interrupted{kept}", file=sys.stderr)
        return 130
    finally:
        shutdown(dist)
    if not dist.is_main:
        return 0
    fit = out["fit"]
    print(
        f"trained {fit['step']} steps ({fit['epoch']} epochs) in {fit['train_seconds']:.1f} s; "
        f"checkpoints in {out['run_dir']}/checkpoints"
    )
    if out["evaluation"]:
        print(results_table(out["evaluation"]))
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from specops import pipeline
    from specops.evaluation.report import results_table

    results = pipeline.evaluate(
        args.run,
        args.data,
        checkpoint=args.checkpoint,
        json_out=args.json,
        plots=False if args.no_plots else None,
        overrides=args.set,
    )
    print(results_table(results))
    return 0


def _learning_rate(text: str) -> float | str:
    """``--lr``: a positive number, or ``auto`` for a learning-rate range test."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return positive_float(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a positive number or 'auto' (e.g. --lr 3e-3)"
        ) from None


def add_commands(sub) -> None:
    tr = sub.add_parser(
        "train", parents=[threads_option()], help="train a model on a dataset file, then evaluate it"
    )
    tr.add_argument("--data", help="training data (.h5 from `specops generate` or `specops convert`)")
    tr.add_argument("--model", help="model or preset name (see `specops list`; default fno)")
    tr.add_argument("--config", help="YAML configuration (sections model, data, optim, train, eval)")
    tr.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override, e.g. optim.lr=3e-3"
    )
    tr.add_argument("--out", help="run directory (default runs/run)")
    tr.add_argument(
        "--test-data", action="append", default=[], metavar="FILE", help="extra test set (repeatable)"
    )
    tr.add_argument("--epochs", type=int)
    tr.add_argument("--batch-size", type=int)
    tr.add_argument("--lr", type=_learning_rate, help="peak learning rate, or auto (a range test; default)")
    tr.add_argument("--device", help="cpu, cuda, cuda:1 or auto")
    tr.add_argument("--mode", choices=["operator", "autoregressive", "unrolled"])
    tr.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    tr.add_argument(
        "--overwrite", action="store_true", help="replace the run in a non-empty --out (other files stay)"
    )
    tr.add_argument("--no-eval", action="store_true", help="skip the evaluation after training")
    add_online_options(tr)
    tr.set_defaults(func=_cmd_train)
    ev = sub.add_parser(
        "evaluate",
        parents=[threads_option()],
        help="evaluate a trained run: errors, rollouts, speed, plots, report",
    )
    ev.add_argument("run", help="run directory written by `specops train`")
    ev.add_argument("--data", action="append", default=[], metavar="FILE", help="test data (repeatable)")
    ev.add_argument("--json", help="also write the results to this JSON file")
    ev.add_argument("--checkpoint", default=None, help="best (default, else last), last, or a path")
    ev.add_argument("--no-plots", action="store_true")
    ev.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="eval.KEY=VALUE",
        help="change an eval setting for this evaluation, e.g. eval.rollout_steps=20",
    )
    ev.set_defaults(func=_cmd_evaluate)
