"""Run directories: what ``specops train --out DIR`` may write into, and how a run takes one over.

A run directory belongs to one run. A new run needs a directory that does not exist or is empty; a
non-empty one is refused unless the run resumes (``--resume``: it must hold ``checkpoints/last.pt``) or
replaces the previous run (``--overwrite``: the files a run writes are removed, anything else is left
alone). The checks read only; nothing is written until the configuration, the data and the model have
been validated, and then only under the directory's lock, so two processes never train into one
directory. Temporary files left by a killed run (``.NAME.XXXX.tmp``, see ``specops.atomic``) are removed
when the next run takes the directory over.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from specops.locking import exclusive_lock

RUN_FILES = ("config.yaml", "metrics.jsonl", "results.json", "report.md", "lr_range_test.json")
RUN_DIRS = ("checkpoints", "figures", "tensorboard")
LOCK_NAME = ".specops.lock"
LAST_CHECKPOINT = Path("checkpoints") / "last.pt"


class RunDirectoryError(FileExistsError):
    """A run directory that cannot be used as asked; the message says what to do instead."""


def _listing(entries: list[Path], limit: int = 4) -> str:
    names = sorted(e.name + ("/" if e.is_dir() else "") for e in entries)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def check_run_dir(run_dir: str | os.PathLike, *, resume: bool, overwrite: bool) -> None:
    """Raise ``RunDirectoryError`` unless ``run_dir`` may be used; reads only.

    A new run (neither flag) needs a missing or empty directory; ``resume`` needs ``checkpoints/last.pt``;
    ``overwrite`` accepts any directory.
    """
    run_dir = Path(run_dir)
    if resume and overwrite:
        raise RunDirectoryError(
            "--resume and --overwrite contradict each other: continue the run or replace it"
        )
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirectoryError(f"--out {run_dir} is a file, not a directory; choose another --out")
    if resume:
        if not (run_dir / LAST_CHECKPOINT).is_file():
            raise FileNotFoundError(
                f"cannot resume: {run_dir / LAST_CHECKPOINT} does not exist; start the run without --resume"
            )
        return
    entries = [e for e in run_dir.iterdir() if e.name != LOCK_NAME] if run_dir.is_dir() else []
    if entries and not overwrite:
        kind = "a specops run" if (run_dir / "config.yaml").exists() else "files"
        raise RunDirectoryError(
            f"--out {run_dir} already holds {kind} ({_listing(entries)}); pass --resume to continue its run, "
            f"--overwrite to replace the run's files, or choose another --out"
        )


def remove_stale_temporaries(run_dir: str | os.PathLike) -> list[Path]:
    """Delete the temporary files of interrupted atomic writes under ``run_dir`` (call under its lock)."""
    run_dir = Path(run_dir)
    removed = []
    for folder in (run_dir, run_dir / "checkpoints"):
        if folder.is_dir():
            for tmp in folder.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)
                removed.append(tmp)
    return removed


def clear_run(run_dir: str | os.PathLike) -> None:
    """Remove what a previous run wrote (``--overwrite``); other files in the directory stay."""
    run_dir = Path(run_dir)
    for name in RUN_FILES:
        (run_dir / name).unlink(missing_ok=True)
    for name in RUN_DIRS:
        if (run_dir / name).is_dir():
            shutil.rmtree(run_dir / name)


@contextlib.contextmanager
def run_lock(run_dir: str | os.PathLike) -> Iterator[Path]:
    """Hold ``run_dir``'s lock (``run_dir/.specops.lock``, creating the directory) while a run writes to
    it; a second process fails at once naming the first (``specops.locking``)."""
    run_dir = Path(run_dir)
    with exclusive_lock(
        run_dir,
        what="run directory",
        fix="wait for that run to finish, or choose another --out",
        lock_file=run_dir / LOCK_NAME,
    ):
        yield run_dir
