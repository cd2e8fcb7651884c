"""Progress display for long loops: a tqdm bar on a terminal, plain lines on a pipe or a log file.

A tqdm bar redraws itself with carriage returns many times a second; written to a file or a pipe (a Slurm
log, ``| tee``) that becomes one enormous line. So when the stream is not a terminal, :class:`Progress`
prints one ordinary line at most every ``interval`` seconds (and one at the end)::

    train: 120/1000 steps (12%), 31.2 s, eta 3m49s, loss=0.0123, lr=0.001
"""

from __future__ import annotations

import math
import sys
import time
from typing import IO, Any

from tqdm.auto import tqdm

LINE_INTERVAL = 10.0  # seconds between two lines when the stream is not a terminal


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or file-like objects without isatty
        return False


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Progress:
    """Count work done and show it: a tqdm bar when ``file`` is a terminal, else a line every ``interval``
    seconds. Disabled, it does nothing.

    Parameters
    ----------
    total : int or None
        Units of work in all (for the percentage and the ETA).
    desc, unit : str
        Label of the loop and name of one unit (``"step"``, ``"sample"``).
    enabled : bool
        False shows nothing (another rank, ``--no-progress``).
    file : text stream, default ``sys.stderr``
    interval : float
        Seconds between two lines on a non-terminal stream.
    initial : int
        Units already done (a resumed run).
    leave : bool
        Keep the bar on screen when closed.
    """

    def __init__(
        self,
        total: int | None,
        *,
        desc: str = "",
        unit: str = "it",
        enabled: bool = True,
        file: IO[str] | None = None,
        interval: float = LINE_INTERVAL,
        initial: int = 0,
        leave: bool = True,
    ) -> None:
        self.file = file if file is not None else sys.stderr
        self.total, self.desc, self.unit = total, desc, unit
        self.n = int(initial)
        self.enabled = bool(enabled)
        self.interval = float(interval)
        self.postfix: dict[str, Any] = {}
        self._start = time.perf_counter()
        self._first = self.n
        self._last_line = self._start
        self._printed = self.n  # the count of the last line printed
        self._bar = None
        if self.enabled and _is_terminal(self.file):
            self._bar = tqdm(
                total=total,
                initial=initial,
                desc=desc or None,
                unit=unit,
                dynamic_ncols=True,
                leave=leave,
                file=self.file,
            )

    @property
    def disabled(self) -> bool:
        return not self.enabled

    def update(self, n: int = 1) -> None:
        """Record ``n`` more units done."""
        if not self.enabled:
            return
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.perf_counter()
        if now - self._last_line >= self.interval:
            self._line(now)

    def set_postfix(self, **values: Any) -> None:
        """Numbers shown after the count (the running loss, say)."""
        if not self.enabled:
            return
        self.postfix = {k: (f"{v:.4g}" if isinstance(v, float) else str(v)) for k, v in values.items()}
        if self._bar is not None:
            self._bar.set_postfix(self.postfix, refresh=False)

    def write(self, text: str) -> None:
        """Print a line without breaking the bar."""
        if self._bar is not None:
            self._bar.write(text, file=self.file)
        else:
            print(text, file=self.file, flush=True)

    def _line(self, now: float) -> None:
        elapsed = now - self._start
        parts = [f"{self.n}/{self.total} {self.unit}s" if self.total else f"{self.n} {self.unit}s"]
        if self.total:
            parts[0] += f" ({100.0 * self.n / self.total:.0f}%)"
        parts.append(f"{elapsed:.1f} s")
        done = self.n - self._first
        if self.total and done > 0:
            parts.append(f"eta {_duration(elapsed / done * (self.total - self.n))}")
        parts += [f"{k}={v}" for k, v in self.postfix.items()]
        label = f"{self.desc}: " if self.desc else ""
        print(label + ", ".join(parts), file=self.file, flush=True)
        self._last_line, self._printed = now, self.n

    def close(self) -> None:
        """End the display: close the bar, or print a last line if any work was counted since the last."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.enabled and self.n != self._printed:
            self._line(time.perf_counter())
        self.enabled = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
