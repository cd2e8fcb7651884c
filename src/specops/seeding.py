"""What a valid seed is, said in one place: an integer ``s`` with ``0 <= s < 2**63``.

Why these bounds: a sample's seed goes to ``torch.Generator().manual_seed`` (which accepts
``[-2**63, 2**64)``) and is stored in a dataset's ``/seeds`` as int64 (``[-2**63, 2**63)``); the
intersection, without the negative half, keeps "sample ``i`` uses seed ``S + i``" meaningful and every seed
printable as the ``--seed`` that regenerates it. Integers only: a float such as ``1.5`` or a string is a
mistake, not a seed, so it is refused instead of being truncated.

Every place where seeds come in from users checks them here: ``generate_dataset`` (the base seed and the
whole range ``S .. S + n - 1``), ``write_dataset`` (stored seeds), the problems' ``generate`` and the random
field samplers. This module imports nothing from specops, so solvers, data and training can all use it.
:func:`seed_everything` seeds every generator a run draws from.
"""

from __future__ import annotations

import operator
import random
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

SEED_LIMIT = 2**63  # exclusive upper bound


def check_seed(seed: Any, name: str = "seed") -> int:
    """``seed`` as a Python ``int`` if it is a valid seed (an integer in ``[0, 2**63)``).

    Parameters
    ----------
    seed : int-like
        A Python or NumPy integer (anything with ``__index__``); not a bool, float or string.
    name : str
        How the caller calls it, for the message (``"seed"``, ``"--seed"``, ``"train.seed"``).

    Raises
    ------
    ValueError
        Naming ``name``, the value and the valid range.
    """
    value, problem = _as_seed(seed)
    if problem:
        raise ValueError(f"{name}={seed!r} {problem}; a seed is an integer in [0, 2**63), e.g. 0 or 1234")
    return value


def check_seeds(seeds: Iterable[Any], name: str = "seeds") -> list[int]:
    """The seeds as a non-empty list of valid seeds (see :func:`check_seed`), one per sample.

    Raises
    ------
    ValueError
        When ``seeds`` is not a sequence, is empty, or holds an invalid seed (named with its position).
    """
    try:
        values = list(seeds)
    except TypeError:
        raise ValueError(f"{name}={seeds!r} must be a sequence of integers, one per sample") from None
    if not values:
        raise ValueError(f"{name} is empty; pass one integer seed per sample")
    out = []
    for i, seed in enumerate(values):
        value, problem = _as_seed(seed)
        if problem:
            raise ValueError(
                f"{name} must be a sequence of integers in [0, 2**63), one per sample; {name}[{i}]={seed!r} "
                f"{problem}"
            )
        out.append(value)
    return out


def check_seed_range(seed: Any, count: int, name: str = "seed") -> int:
    """``seed`` if the ``count`` seeds ``seed, seed + 1, ..., seed + count - 1`` are all valid.

    A dataset of ``count`` samples with base seed ``seed`` gives sample ``i`` the seed ``seed + i``; this
    checks the whole range before any sample is computed.
    """
    first = check_seed(seed, name)
    last = first + max(int(count), 1) - 1
    if last >= SEED_LIMIT:
        raise ValueError(
            f"{name}={first} with {count} samples needs seeds up to {last}, beyond the largest seed "
            f"2**63 - 1; use a smaller {name}"
        )
    return first


def _as_seed(seed: Any) -> tuple[int, str]:
    """``(value, "")`` for a valid seed, ``(0, what is wrong)`` otherwise: the one definition."""
    if isinstance(seed, bool):  # an int subclass, but True is a mistake, not seed 1
        return 0, "is a bool, not an integer"
    try:
        value = operator.index(seed)
    except TypeError:
        return 0, "is not an integer"
    if not 0 <= value < SEED_LIMIT:
        return 0, "is out of range"
    return value, ""


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), NumPy's legacy global generator and Python's ``random`` with a valid seed."""
    seed = check_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002  (the legacy global RNG that user code draws from)
    torch.manual_seed(seed)
