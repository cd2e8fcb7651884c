"""Run logs: progress with loss and ETA (``specops.progress``), a JSON-lines file, TensorBoard when installed.

Every record is one line of ``metrics.jsonl`` in the run directory, ``{"step": ..., "epoch": ...,
"time": seconds since start, <name>: <value>, ...}``: readable with ``pandas.read_json(path, lines=True)``
or a ten-line script. Only rank 0 writes.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from specops.atomic import atomic_path
from specops.progress import Progress

LOG_NAME = "metrics.jsonl"


def _tensorboard_writer(run_dir: Path, required: bool):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        if required:
            raise ImportError(
                "TensorBoard logging needs the tensorboard package: pip install 'specops[log]' "
                "(or set train.tensorboard=false)"
            ) from exc
        return None
    return SummaryWriter(log_dir=str(run_dir / "tensorboard"))


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


class RunLogger:
    """Write training records to ``run_dir`` and show progress.

    Parameters
    ----------
    run_dir : path or None
        Where ``metrics.jsonl`` (and ``tensorboard/``) go; None logs nowhere but the progress bar.
    total_steps : int or None
        Length of the run, for the progress bar's ETA.
    enabled : bool
        False on ranks other than 0: nothing is written or shown.
    progress : bool
        Show progress: a bar on a terminal, a line every few seconds on a pipe or file.
    tensorboard : bool or None
        True requires TensorBoard, None uses it when installed, False never.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike | None,
        *,
        total_steps: int | None = None,
        enabled: bool = True,
        progress: bool = True,
        tensorboard: bool | None = None,
        initial_step: int = 0,
    ) -> None:
        self.enabled = enabled
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.start = time.perf_counter()
        self._file = None
        self._tb = None
        if enabled and self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._file = open(self.run_dir / LOG_NAME, "a", encoding="utf-8")
            if tensorboard is not False:
                self._tb = _tensorboard_writer(self.run_dir, required=bool(tensorboard))
        self.bar = Progress(
            total_steps, desc="train", unit="step", enabled=enabled and progress, initial=initial_step
        )

    def log(self, step: int, **values: Any) -> None:
        """Append one record (``step`` plus named numbers) to the log and TensorBoard."""
        if not self.enabled:
            return
        record = {"step": int(step), "time": round(time.perf_counter() - self.start, 4)}
        record.update({k: _jsonable(v) for k, v in values.items()})
        if self._file is not None:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()
        if self._tb is not None:
            for key, value in record.items():
                if key not in ("step", "time") and isinstance(value, (int, float)):
                    self._tb.add_scalar(key, value, int(step))

    def progress(self, steps: int = 1, **postfix: float) -> None:
        """Advance the bar by ``steps`` and show ``postfix`` (e.g. the running loss)."""
        if postfix:
            self.bar.set_postfix(**{k: float(v) for k, v in postfix.items()})
        if steps:
            self.bar.update(steps)

    def message(self, text: str) -> None:
        """Print a line without breaking the progress bar."""
        if self.enabled:
            self.bar.write(text)

    def close(self) -> None:
        self.bar.close()
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def truncate_log(run_dir: str | os.PathLike, step: int) -> None:
    """Drop the records after ``step`` from ``metrics.jsonl`` (a resumed run rewrites them)."""
    path = Path(run_dir) / LOG_NAME
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if json.loads(line).get("step", 0) <= step:
                kept.append(line)
        except json.JSONDecodeError:
            continue  # a line torn by a crash: the resumed run rewrites what follows
    with atomic_path(path) as tmp:
        tmp.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")


def read_log(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """All records of ``metrics.jsonl`` as dicts, in order."""
    path = Path(run_dir) / LOG_NAME
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class LossHistory:
    """The training loss of every step, moved to the host in blocks.

    ``append`` keeps the step's loss tensor where it was computed; ``flush`` copies the pending ones to
    ``values`` in one transfer (every ``log_every`` steps and before checkpoints, so the loop does not
    wait for the device each step) and raises ``FloatingPointError`` at the first non-finite one.
    """

    def __init__(self) -> None:
        self.values: list[float] = []
        self._pending: list[torch.Tensor] = []

    def append(self, loss: torch.Tensor) -> None:
        self._pending.append(loss)

    def flush(self, step: int, last_checkpoint: Path | None = None) -> None:
        """Move the pending losses (of the steps up to ``step``) to ``values``."""
        if not self._pending:
            return
        pending = torch.stack(self._pending).double().cpu().tolist()
        first = step - len(pending) + 1
        self._pending = []
        for i, value in enumerate(pending):
            if not math.isfinite(value):
                self.values.extend(pending[:i])
                where = f"; the last checkpoint is {last_checkpoint}" if last_checkpoint is not None else ""
                raise FloatingPointError(
                    f"the training loss is {value} at step {first + i}: lower optim.lr, set optim.grad_clip, "
                    f"or check the data for NaN/inf{where}"
                )
        self.values.extend(pending)

    def mean_of_last(self, n: int) -> float:
        """Mean of the last ``n`` flushed losses (NaN for none)."""
        return statistics.fmean(self.values[-n:]) if n else math.nan
