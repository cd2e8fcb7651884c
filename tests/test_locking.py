"""The output lock: a second writer fails at once naming the holder; a dead holder never blocks anyone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from specops.locking import LockedError, exclusive_lock, lock_path

# Holds the lock of argv[2] until killed; prints "locked" once it holds it. The module is loaded from its
# file (it imports only the standard library), which starts in milliseconds instead of importing torch.
_HOLDER = """
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("locking", sys.argv[1])
locking = importlib.util.module_from_spec(spec)
spec.loader.exec_module(locking)
with locking.exclusive_lock(sys.argv[2], what="run directory"):
    print("locked", flush=True)
    time.sleep(60)
"""
LOCKING = Path(__file__).parents[1] / "src" / "specops" / "locking.py"


def _hold(path: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(LOCKING), str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_process_fails_at_once_naming_the_holder(tmp_path):
    run = tmp_path / "runs" / "run"
    holder = _hold(run)
    try:
        start = time.monotonic()
        with pytest.raises(LockedError) as info, exclusive_lock(run, what="run directory", fix="try later"):
            pass
        assert time.monotonic() - start < 1.0  # no waiting
        message = str(info.value)
        assert message.startswith(
            f"run directory {run} is being written by another process (pid {holder.pid}"
        )
        assert f"its lock file is {lock_path(run)}: try later" in message and "\n" not in message
        assert json.loads(lock_path(run).read_text())["pid"] == holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_lock_of_a_killed_process_is_taken_over(tmp_path):
    out = tmp_path / "d.h5"
    holder = _hold(out)
    holder.send_signal(signal.SIGKILL)  # no cleanup runs: the lock file stays behind
    holder.wait()
    assert lock_path(out).exists()
    with exclusive_lock(out) as lock:
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert not lock_path(out).exists()  # removed on release


def test_lock_is_not_reentrant_and_is_released_on_error(tmp_path):
    out = tmp_path / "d.h5"
    with pytest.raises(RuntimeError, match="inner"), exclusive_lock(out):
        with pytest.raises(LockedError, match=f"pid {os.getpid()}"), exclusive_lock(out):
            pass
        raise RuntimeError("inner")
    with exclusive_lock(out, lock_file=tmp_path / "elsewhere" / "x.lock") as lock:
        assert lock == tmp_path / "elsewhere" / "x.lock" and lock.exists()
    with exclusive_lock(out):  # free again after the error above
        pass


def test_a_lock_file_removed_while_waiting_is_not_trusted(tmp_path, monkeypatch):
    """A process that opened the lock file just before its holder removed it must not keep that lock."""
    import fcntl

    out = tmp_path / "d.h5"
    real_flock, calls = fcntl.flock, []

    def flock_after_removal(fd, op):
        calls.append(op)
        if len(calls) == 1:
            lock_path(out).unlink()  # the previous holder releases between our open and our flock
        return real_flock(fd, op)

    monkeypatch.setattr(fcntl, "flock", flock_after_removal)
    with exclusive_lock(out) as lock:
        assert len(calls) == 2  # the first lock was on a deleted file: taken again on a fresh one
        assert lock.exists() and json.loads(lock.read_text())["pid"] == os.getpid()
