"""Atomic file writes: write to a temporary file beside the target, fsync, then rename over it.

A crash, a full disk or an interrupt leaves either the old file or the new one, never a torn one. A write
that fails for lack of space (full disk, exhausted quota, the file size limit of ``ulimit -f``) is reported
as one :class:`OutOfSpaceError` naming the target, whatever library did the writing.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

# errno values that mean "the data did not fit", with what the user can do about each.
_SPACE_ERRNOS = {
    errno.ENOSPC: "no space left on the device",
    getattr(errno, "EDQUOT", -1): "no space left in the disk quota",
    errno.EFBIG: "the file size limit (ulimit -f) was reached",
}


class OutOfSpaceError(OSError):
    """A write failed for lack of space: full disk, exhausted quota or file size limit.

    ``errno`` is the original error number, ``filename`` the file being written; the message names the
    file and the fix, on one line.
    """

    def __str__(self) -> str:
        return str(self.strerror)


def space_error(exc: BaseException | None) -> OSError | None:
    """The ``OSError`` meaning "out of space" in ``exc`` or its causes (``__cause__``/``__context__``).

    Libraries that write through a Python file object (``torch.save``, h5py's file-object driver) turn the
    ``OSError`` into their own exception type but keep it as the context; this digs it out.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _SPACE_ERRNOS:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def out_of_space(exc: OSError, target: str | os.PathLike, fix: str = "") -> OutOfSpaceError:
    """An :class:`OutOfSpaceError` for ``target`` from the low-level error ``exc``.

    ``fix`` replaces the default advice (free space or write elsewhere; earlier files are intact).
    """
    code = exc.errno if exc.errno in _SPACE_ERRNOS else errno.ENOSPC
    target = Path(target)
    if code == errno.EFBIG:
        advice = fix or (
            f"raise the limit (ulimit -f unlimited) or write a smaller file; the previous {target.name}, if "
            f"any, is intact"
        )
    else:
        advice = fix or (
            f"free disk space or choose another output directory; the previous {target.name}, if any, is intact"
        )
    return OutOfSpaceError(code, f"{_SPACE_ERRNOS[code]} while writing {target}: {advice}", str(target))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; on success rename it to ``path``.

    On any error the temporary file is removed and ``path`` is untouched. A write that failed for lack of
    space (also when the writing library wrapped the ``OSError`` in its own exception, as ``torch.save``
    does when given a file object) is re-raised as :class:`OutOfSpaceError` naming ``path`` and the fix.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    # mkstemp creates 0600; give the final file the permissions a plain open() would (0666 & ~umask)
    os.chmod(tmp, 0o666 & ~_umask())
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    except OutOfSpaceError:
        tmp_path.unlink(missing_ok=True)
        raise
    except BaseException as exc:
        tmp_path.unlink(missing_ok=True)
        cause = space_error(exc)
        if cause is not None:
            raise out_of_space(cause, target) from exc
        raise
