"""Create HDF5 files so that a failed write (full disk, quota, file size limit) is one clean error.

When a write fails under HDF5's own file driver, HDF5 keeps the file open in a broken state: closing it fails
again, and at interpreter exit h5py tears it down with a flood of tracebacks and a segmentation fault
(h5py issues #914 and #2160). So specops writes new files through h5py's file-object driver and a
:class:`GuardedFile`: the first failed write is recorded, and from then on writes are held in memory (up to
``HELD_BYTES``) instead of reaching the disk, so HDF5 never sees a failure and closes the file normally. The
writer checks the guard after each step and once the file is closed, and raises one ``OutOfSpaceError``
naming the target; the temporary file is then deleted by ``specops.atomic.atomic_path``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import h5py

from specops.atomic import out_of_space, space_error

# After a failed write, later writes are kept in memory so that HDF5 can read back what it believes it
# wrote while closing the file; beyond this many bytes they are dropped (the file is discarded anyway).
HELD_BYTES = 64 * 2**20


class GuardedFile:
    """A binary file for h5py's ``fileobj`` driver that never reports a failed write to HDF5.

    Parameters
    ----------
    path : path
        The file to create (truncated if it exists).
    target : path
        The file the user asked for, named in errors (``path`` is usually its temporary stand-in).
    """

    def __init__(self, path: str | os.PathLike, target: str | os.PathLike) -> None:
        self.target = Path(target)
        self.error: OSError | None = None
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o666)
        self._pos = self._size = 0
        self._held: list[tuple[int, bytes]] = []
        self._held_bytes = 0

    # -- the file-object protocol h5py uses: seek, tell, readinto, read, write, truncate, flush ----------
    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}[whence]
        self._pos = base + int(offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        n = max(0, min(len(view), self._size - self._pos))
        data = os.pread(self._fd, n, self._pos) if n else b""
        view[: len(data)] = data
        view[len(data) : n] = bytes(n - len(data))
        for offset, chunk in self._held:  # in write order, so later writes win
            lo, hi = max(offset, self._pos), min(offset + len(chunk), self._pos + n)
            if lo < hi:
                view[lo - self._pos : hi - self._pos] = chunk[lo - offset : hi - offset]
        self._pos += n
        return n

    def read(self, size: int = -1) -> bytes:
        size = self._size - self._pos if size is None or size < 0 else size
        buffer = bytearray(max(0, size))
        return bytes(buffer[: self.readinto(buffer)])

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        total, pos = len(view), self._pos
        if self.error is None:
            try:
                while len(view):
                    written = os.pwrite(self._fd, view, pos)
                    view, pos = view[written:], pos + written
            except OSError as exc:
                self.error = exc
        if len(view) and self._held_bytes + len(view) <= HELD_BYTES:
            self._held.append((pos, bytes(view)))
            self._held_bytes += len(view)
        self._pos += total
        self._size = max(self._size, self._pos)
        return total

    def truncate(self, size: int | None = None) -> int:
        size = self._pos if size is None else int(size)
        if self.error is None:
            try:
                os.ftruncate(self._fd, size)
            except OSError as exc:
                self.error = exc
        self._size = size
        return size

    def flush(self) -> None:
        """Nothing to do: every write went straight to the operating system."""

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    # -- for the writer ----------------------------------------------------------------------------------
    def check(self) -> None:
        """Raise if a write failed: ``OutOfSpaceError`` for a lack of space, ``OSError`` otherwise."""
        if self.error is None:
            return
        if space_error(self.error) is not None:
            raise out_of_space(self.error, self.target) from self.error
        raise OSError(
            self.error.errno, f"cannot write {self.target} ({self.error.strerror}); nothing was replaced"
        ) from self.error


@contextlib.contextmanager
def create_h5(path: str | os.PathLike, target: str | os.PathLike) -> Iterator[tuple[h5py.File, GuardedFile]]:
    """Create the HDF5 file ``path`` (standing in for ``target``) through a :class:`GuardedFile`.

    Yields ``(h5, guard)``; call ``guard.check()`` after each large write to stop early. On leaving, the file
    is closed (which cannot fail for lack of space) and the guard checked once more.
    """
    guard = GuardedFile(path, target)
    try:
        with h5py.File(guard, "w") as h5:
            yield h5, guard
    finally:
        guard.close()
    guard.check()
