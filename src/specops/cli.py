"""``specops <verb>``: parse arguments, build library objects, call the library. Nothing else lives here."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path


def _cmd_demo(args: argparse.Namespace) -> int:
    from specops import pipeline

    pipeline.demo(args.out, quick=args.quick)
    return 0


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
    return out + list(args.set)


def _cmd_train(args: argparse.Namespace) -> int:
    from specops import pipeline
    from specops.config import load_config
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


def _cmd_list(args: argparse.Namespace) -> int:
    import specops.solvers  # noqa: F401  (registers equations, steppers and problems)
    from specops.registry import EQUATIONS, MODELS, PROBLEMS, STEADY_SOLVERS, STEPPERS

    sections = [
        ("models and presets (specops train --model NAME)", MODELS),
        ("problems and presets (specops generate NAME)", PROBLEMS),
        ("equations", EQUATIONS),
        ("time steppers", STEPPERS),
        ("steady solvers", STEADY_SOLVERS),
    ]
    for title, registry in sections:
        print(f"{title}:")
        for entry in registry.entries():
            base = f" [{entry.family}]" if entry.family else ""
            print(f"  {entry.name:19s} {entry.description.replace('``', '')}{base}")
    return 0


def _parse_sets(items: list[str]) -> dict:
    """``--set key=value`` items of ``generate``, read as ``train --set`` reads its values."""
    from specops.config import parse_assignment

    return dict(parse_assignment(item, example="viscosity=1e-3") for item in items)


def _cmd_generate(args: argparse.Namespace) -> int:
    import torch

    from specops.data.generate import generate_dataset
    from specops.solvers.problems import make_problem

    overrides = _parse_sets(args.set)
    if args.resolution is not None:
        overrides["resolution"] = args.resolution
    problem = make_problem(args.pde, **overrides)
    command = [f"specops generate {args.pde} --samples {args.samples} --seed {args.seed}"]
    command += [f"--resolution {args.resolution}"] if args.resolution is not None else []
    command += [f"--set {item}" for item in args.set]
    command += [f"--batch-size {args.batch_size} --device {args.device} --dtype {args.dtype}"]
    try:
        out = generate_dataset(
            problem,
            args.samples,
            args.out,
            seed=args.seed,
            batch_size=args.batch_size,
            shard=args.shard,
            device=args.device,
            dtype=getattr(torch, args.dtype),
            progress=not args.no_progress,
            compression=args.compression,
            attrs={"command": " ".join(command), "overrides": overrides},
            overwrite=args.overwrite,
        )
    except KeyboardInterrupt:
        print(
            f"\nspecops generate: interrupted; finished batches are kept in {args.out}.partial: run the same "
            f"command again to resume",
            file=sys.stderr,
        )
        return 130
    print(f"wrote {out}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from specops.data.io import format_info, read_info, verify_file

    if args.verify:
        problems = verify_file(args.file)
        if problems:
            for problem in problems:
                print(problem, file=sys.stderr)
            print(
                f"specops info: {args.file} failed verification ({len(problems)} problem(s))", file=sys.stderr
            )
            return 1
    print(format_info(read_info(args.file)))
    if args.verify:
        print("verified: schema complete, every checksum matches, no NaN or inf")
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from specops.data.convert import convert

    layout: str | dict[str, str] | None = None
    for item in args.layout:
        name, sep, value = item.partition("=")
        if sep:
            layout = {**(layout if isinstance(layout, dict) else {}), name.strip(): value}
        else:
            layout = item
    out = convert(
        args.src,
        args.fmt,
        args.out,
        input_fields=args.input,
        output_fields=args.output,
        layout=layout,
        compression=args.compression,
        progress=not args.no_progress,
        overwrite=args.overwrite,
    )
    print(f"wrote {out}")
    return 0


def _cmd_merge(args: argparse.Namespace) -> int:
    from specops.data.shards import merge_shards

    out = merge_shards(
        args.out,
        args.shards,
        compression=args.compression,
        progress=not args.no_progress,
        overwrite=args.overwrite,
    )
    print(f"wrote {out}")
    return 0


def _add_data_commands(sub) -> None:
    from specops.data.formats import FORMATS

    compress = {"choices": ["gzip", "lzf"], "default": None, "help": "compress fields (default: none)"}
    gen = sub.add_parser(
        "generate",
        parents=[_threads_option()],
        help="generate a dataset with a built-in solver (resumable, shardable)",
    )
    gen.add_argument("pde", help="problem name (see `specops list`)")
    gen.add_argument("--samples", type=int, required=True, help="samples in the whole dataset")
    gen.add_argument("--resolution", type=int, default=None, help="grid points per axis")
    gen.add_argument("--out", required=True, help="output .h5 file (a shard's file with --shard)")
    gen.add_argument("--seed", type=int, default=0, help="base seed; sample i uses seed+i (default 0)")
    gen.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    gen.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    gen.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a problem parameter"
    )
    gen.add_argument("--batch-size", type=int, default=32, help="samples per solver call (default 32)")
    gen.add_argument("--shard", default=None, metavar="K/N", help="generate only the K-th of N parts")
    gen.add_argument("--compression", **compress)
    gen.add_argument("--overwrite", action="store_true", help="replace an existing different --out file")
    gen.add_argument("--no-progress", action="store_true", help="no progress bar")
    gen.set_defaults(func=_cmd_generate)
    info = sub.add_parser("info", help="print a dataset's metadata and field shapes")
    info.add_argument("file")
    info.add_argument(
        "--verify", action="store_true", help="check schema, checksums and values; non-zero exit on problems"
    )
    info.set_defaults(func=_cmd_info)
    conv = sub.add_parser("convert", help="import a dataset from another project's format")
    conv.add_argument("src")
    conv.add_argument("--from", dest="fmt", required=True, choices=FORMATS.names(), help="source format")
    conv.add_argument("--out", required=True, help="output .h5 file")
    conv.add_argument("--input", nargs="+", default=[], metavar="KEY", help="input arrays (npz/mat)")
    conv.add_argument("--output", nargs="+", default=[], metavar="KEY", help="output arrays (npy/npz/mat)")
    conv.add_argument(
        "--layout",
        action="append",
        default=[],
        help="axes of the source arrays, e.g. 'sample x y time'; NAME='...' for one array",
    )
    conv.add_argument("--compression", **compress)
    conv.add_argument("--overwrite", action="store_true", help="replace an existing different --out file")
    conv.add_argument("--no-progress", action="store_true", help="no progress bar")
    conv.set_defaults(func=_cmd_convert)
    merge = sub.add_parser("merge", help="join the shards of a `generate --shard` run into one file")
    merge.add_argument("out", help="output .h5 file")
    merge.add_argument("shards", nargs="+", help="shard files, in any order")
    merge.add_argument("--compression", **compress)
    merge.add_argument("--overwrite", action="store_true", help="replace an existing different output file")
    merge.add_argument("--no-progress", action="store_true", help="no progress bar")
    merge.set_defaults(func=_cmd_merge)


def _threads_option() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--threads",
        default="auto",
        metavar="N",
        help="torch threads (default auto: the cores other processes leave idle; SPECOPS_THREADS or "
        "OMP_NUM_THREADS override it)",
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    from specops import __version__

    parser = argparse.ArgumentParser(prog="specops", description="Spectral neural operators for PDEs.")
    parser.add_argument("--version", action="version", version=f"specops {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        parents=[_threads_option()],
        help="train and evaluate an FNO on an embedded problem (minutes on a CPU)",
    )
    demo.add_argument(
        "--out", default="specops-demo", help="directory for data and run (default specops-demo)"
    )
    demo.add_argument("--quick", action="store_true", help="a smaller run (seconds), for smoke tests")
    demo.set_defaults(func=_cmd_demo)
    lst = sub.add_parser("list", help="list models, equations and presets")
    lst.set_defaults(func=_cmd_list)
    _add_data_commands(sub)
    _add_train_commands(sub)
    return parser


def _learning_rate(text: str) -> float | str:
    """``--lr``: a positive number, or ``auto`` for a learning-rate range test."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number or 'auto' (e.g. --lr 3e-3)")
    return value


def _add_train_commands(sub) -> None:
    tr = sub.add_parser(
        "train", parents=[_threads_option()], help="train a model on a dataset file, then evaluate it"
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
    tr.set_defaults(func=_cmd_train)
    ev = sub.add_parser(
        "evaluate",
        parents=[_threads_option()],
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with _threads(getattr(args, "threads", None)):
            return args.func(args)
    except (ValueError, FileNotFoundError, OSError, KeyError, TypeError) as exc:
        print(f"specops {args.command}: error: {exc}", file=sys.stderr)
        return 2


@contextlib.contextmanager
def _threads(requested: str | None):
    """Run a command with the torch thread count ``--threads`` asks for (``auto``: see
    ``specops.device.choose_threads``), restoring the caller's afterwards."""
    if requested is None:  # a command that computes nothing
        yield
        return
    import torch

    from specops.device import choose_threads

    before = torch.get_num_threads()
    torch.set_num_threads(choose_threads(requested))
    try:
        yield
    finally:
        torch.set_num_threads(before)


if __name__ == "__main__":
    sys.exit(main())
