"""What several command modules share."""

from __future__ import annotations

import argparse


def threads_option() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--threads",
        default="auto",
        metavar="N",
        help="torch threads (default auto: the cores other processes leave idle; SPECOPS_THREADS or "
        "OMP_NUM_THREADS override it)",
    )
    return parent


def positive_float(text: str) -> float:
    """An argument that must be a positive number (``--lr``, ``--weight-lr``): argparse names the bad value."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number (e.g. 1e-3)")
    return value
