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
