"""The options of ``specops train --online PROBLEM``: a problem streamed by solver workers, no data file.

They are spelled as ``specops generate`` spells the problem (``--resolution``, ``--problem-set`` for its
``--set``, ``--stream-seed`` for its ``--seed``) and become ``online.*`` overrides of the run's
configuration (``specops.online_config``), applied before ``--set``.
"""

from __future__ import annotations

import argparse


def add_online_options(parser: argparse.ArgumentParser) -> None:
    """Add the online-training flags to ``specops train``."""
    group = parser.add_argument_group("online training (solvers stream samples; no --data)")
    group.add_argument(
        "--online", metavar="PROBLEM", help="train on a stream of this problem (see `specops list`)"
    )
    group.add_argument("--workers", type=int, help="solver workers (default 2)")
    group.add_argument("--resolution", type=int, help="the problem's grid (as `specops generate`)")
    group.add_argument(
        "--problem-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a problem parameter, as `specops generate --set` (repeatable)",
    )
    group.add_argument("--stream-seed", type=int, help="sample i uses seed S + i (default 0)")
    group.add_argument("--max-samples", type=int, help="stop the stream after this many samples")
    group.add_argument("--max-time", type=float, help="stop training after this many seconds")
    group.add_argument(
        "--policy", choices=["fifo", "firo", "reservoir"], help="buffer policy (default reservoir)"
    )
    group.add_argument("--buffer-size", type=int, help="samples the buffer holds (default 1024)")
    group.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="run the workers as Ray actors: ray://HOST:PORT, or auto for a running `ray start` (needs "
        "pip install 'specops[cluster]')",
    )


def online_overrides(args: argparse.Namespace) -> list[str]:
    """The online flags as dotted ``online.*`` overrides."""
    flags = [
        ("online.problem", args.online),
        ("online.workers", args.workers),
        ("online.problem_args.resolution", args.resolution),
        ("online.seed", args.stream_seed),
        ("online.max_samples", args.max_samples),
        ("online.max_time", args.max_time),
        ("online.policy", args.policy),
        ("online.buffer_size", args.buffer_size),
        ("online.cluster", args.cluster),
    ]
    out = [f"{key}={value}" for key, value in flags if value is not None]
    return out + [f"online.problem_args.{item}" for item in args.problem_set]
