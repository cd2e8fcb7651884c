"""Evaluation: rollouts, metrics at several resolutions, speed against the solver, plots and a report."""

from specops.evaluation.evaluate import (
    evaluate_operator,
    evaluate_rollout,
    model_time_per_sample,
    predict,
    resolution_key,
)
from specops.evaluation.report import run_evaluation, save_results, write_report

__all__ = [
    "evaluate_operator",
    "evaluate_rollout",
    "model_time_per_sample",
    "predict",
    "resolution_key",
    "run_evaluation",
    "save_results",
    "write_report",
]
