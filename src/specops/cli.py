"""``specops <verb>``: parse arguments, build library objects, call the library. Nothing else lives here."""

from __future__ import annotations

import argparse
import sys


def _cmd_demo(args: argparse.Namespace) -> int:
    from specops.demo import run_demo

    errors = run_demo(steps=args.steps)
    return 0 if all(e == e for e in errors.values()) else 1


def _cmd_list(args: argparse.Namespace) -> int:
    from specops.registry import MODELS

    print("models:")
    for entry in MODELS.entries():
        print(f"  {entry.name:18s} {entry.description}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from specops import __version__

    parser = argparse.ArgumentParser(prog="specops", description="Spectral neural operators for PDEs.")
    parser.add_argument("--version", action="version", version=f"specops {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="train and evaluate an FNO on an embedded problem (minutes on a CPU)")
    demo.add_argument("--steps", type=int, default=300, help="optimizer steps (default 300)")
    demo.set_defaults(func=_cmd_demo)
    lst = sub.add_parser("list", help="list models, equations and presets")
    lst.set_defaults(func=_cmd_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, OSError, KeyError, TypeError) as exc:
        print(f"specops {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
