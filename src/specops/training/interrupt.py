"""Ctrl-C during training: finish the current step, save, stop with one clear exception.

A first SIGINT only asks the loop to stop (:class:`StopRequest`); the trainer checks the request after each
step, writes ``last.pt`` and raises :class:`TrainingInterrupted`. A second SIGINT interrupts at once (the
previous handler is back), for a step that hangs.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run after a whole step; ``checkpoint`` (None without a run directory) continues it."""

    def __init__(self, step: int, checkpoint: Path | None) -> None:
        where = f"; checkpoint {checkpoint}: resume to continue" if checkpoint is not None else ""
        super().__init__(f"interrupted at step {step}{where}")
        self.step, self.checkpoint = step, checkpoint


class StopRequest:
    """A flag that SIGINT sets while :meth:`armed` is active (main thread only; elsewhere a no-op)."""

    def __init__(self) -> None:
        self.requested = False

    @contextlib.contextmanager
    def armed(self, enabled: bool = True) -> Iterator[StopRequest]:
        """Catch the first Ctrl-C as a request; ``enabled=False`` (e.g. several processes, which would
        stop at different steps) leaves Ctrl-C as it is."""
        if not enabled or threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = signal.getsignal(signal.SIGINT)

        def ask(signum, frame):
            self.requested = True
            signal.signal(signal.SIGINT, previous)

        self.requested = False
        signal.signal(signal.SIGINT, ask)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)

    def take(self) -> bool:
        """Whether a stop was requested (and clear it)."""
        requested, self.requested = self.requested, False
        return requested
