"""``specops <verb>``: parse arguments, build library objects, call the library. Nothing else lives here.

One module per group of verbs; each has ``add_commands(sub)`` that adds its sub-parsers and sets
``func`` on them. A new verb is a new module listed in ``COMMAND_MODULES``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys

from specops.cli import assimilate, data, finetune, refine, train
from specops.cli.common import threads_option

COMMAND_MODULES = (data, train, finetune, refine, assimilate)


def _cmd_demo(args: argparse.Namespace) -> int:
    from specops import pipeline

    pipeline.demo(args.out, quick=args.quick)
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


def build_parser() -> argparse.ArgumentParser:
    from specops import __version__

    parser = argparse.ArgumentParser(prog="specops", description="Spectral neural operators for PDEs.")
    parser.add_argument("--version", action="version", version=f"specops {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        parents=[threads_option()],
        help="train and evaluate an FNO on an embedded problem (minutes on a CPU)",
    )
    demo.add_argument(
        "--out", default="specops-demo", help="directory for data and run (default specops-demo)"
    )
    demo.add_argument("--quick", action="store_true", help="a smaller run (seconds), for smoke tests")
    demo.set_defaults(func=_cmd_demo)
    lst = sub.add_parser("list", help="list models, equations and presets")
    lst.set_defaults(func=_cmd_list)
    for module in COMMAND_MODULES:
        module.add_commands(sub)
    return parser


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
