"""Early stopping: the best validation score so far, and whether to stop waiting for a better one."""

from __future__ import annotations

import math


class EarlyStopping:
    """Track the best validation score (lower is better).

    A score improves on the best when it is lower by more than ``min_delta``; after ``patience``
    validations in a row without an improvement, :attr:`should_stop` is true (never, with ``patience``
    None). ``best`` and ``bad_evals`` are what a checkpoint keeps.
    """

    def __init__(self, patience: int | None = None, min_delta: float = 0.0) -> None:
        if patience is not None and patience < 1:
            raise ValueError(f"early_stopping={patience} must be at least 1 (or None)")
        self.patience, self.min_delta = patience, float(min_delta)
        self.best = math.inf
        self.bad_evals = 0

    def update(self, score: float) -> bool:
        """Record a validation score; returns whether it is a new best."""
        if score < self.best - self.min_delta:
            self.best, self.bad_evals = score, 0
            return True
        self.bad_evals += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self.bad_evals >= self.patience
