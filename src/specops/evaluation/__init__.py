"""Evaluation: rollouts, metrics at several resolutions, speed against the solver, plots and a report."""

from specops.evaluation.rollout import autoregressive_step, rollout

__all__ = ["autoregressive_step", "rollout"]
