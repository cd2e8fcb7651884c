"""One writer at a time: an exclusive, non-blocking lock on an output (a dataset file, a run directory).

``with exclusive_lock(path, what="run directory"):`` holds an advisory ``flock`` on the lock file
``PATH.lock`` beside ``path`` (``lock_file=`` chooses another) for the duration of the block. A second
process that asks for the same lock fails at once with :class:`LockedError`, whose one-line message names
the output, the lock file and the holder recorded in it (pid, host, start time, command).

- The kernel drops the lock when its process ends, however it ends (even ``kill -9``), so a lock file left
  by a dead process never blocks anyone: the next writer takes it over. An interrupted resumable job can
  therefore always be resumed.
- The lock file is removed on release. A waiter that opened it just before its removal notices that its
  lock is on a deleted file and tries again, so two processes can never both hold ``path``.
- The lock is not re-entrant: taking a lock the same process already holds (on another file descriptor)
  fails like any second writer. Lock once, at the top of the command that writes.
- On file systems that do not support ``flock`` (some parallel file systems mounted without it) and on
  platforms without ``fcntl``, writing proceeds unlocked with a ``RuntimeWarning``.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import json
import os
import socket
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

_UNSUPPORTED = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


class LockedError(OSError):
    """Another process holds the lock: the message names the output, the lock file and that process."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def lock_path(path: str | os.PathLike) -> Path:
    """The default lock file of ``path``: ``PATH.lock`` beside it."""
    path = Path(path)
    return path.with_name(path.name + ".lock")


def _holder(fd: int) -> str:
    """Who holds the lock, as recorded in the lock file (best effort: it may still be empty)."""
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "another process"
    where = f"pid {info['pid']} on {info.get('host', '?')}"
    since = f", since {info['since']}" if info.get("since") else ""
    command = f", running `{info['command']}`" if info.get("command") else ""
    return f"another process ({where}{since}{command})"


def _record(fd: int) -> None:
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else "",
    }
    with contextlib.suppress(OSError):  # only informative: a full disk must not stop here
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)


@contextlib.contextmanager
def exclusive_lock(
    path: str | os.PathLike,
    *,
    what: str = "output",
    fix: str = "wait for it to finish, or write somewhere else",
    lock_file: str | os.PathLike | None = None,
) -> Iterator[Path]:
    """Hold the exclusive lock of ``path`` while the block runs; yield the lock file's path.

    Parameters
    ----------
    path : path
        What is being written (file or directory; it need not exist yet).
    what : str
        What ``path`` is, for the message (``"dataset file"``, ``"run directory"``).
    fix : str
        What the user should do when another process holds the lock.
    lock_file : path, optional
        The lock file; default ``PATH.lock`` beside ``path`` (:func:`lock_path`). Its directory is created.

    Raises
    ------
    LockedError
        At once, without waiting, when another process holds the lock.
    """
    target = Path(path)
    lock = Path(lock_file) if lock_file is not None else lock_path(target)
    if fcntl is None:
        warnings.warn(f"no file locking on this platform: {target} is written unlocked", RuntimeWarning, 2)
        yield lock
        return
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _holder(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise LockedError(
                    f"{what} {target} is being written by {holder}; its lock file is {lock}: {fix}"
                ) from None
            if exc.errno in _UNSUPPORTED:
                warnings.warn(
                    f"the file system of {lock} does not support locks ({exc.strerror}); {target} is written "
                    f"unlocked: make sure no other process writes it",
                    RuntimeWarning,
                    2,
                )
                yield lock
                return
            raise
        # The holder before us may have removed the file between our open and our flock: then we hold a
        # lock on a deleted file, and a third process may lock a new one. Only a lock on the file that is
        # still at `lock` counts.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        _record(fd)
        yield lock
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()  # while still locked, so nobody else can be holding this file
        os.close(fd)
