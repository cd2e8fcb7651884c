"""A full disk while writing a dataset: one clean error naming the file, earlier data intact, HDF5 unharmed."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest

from specops.atomic import OutOfSpaceError
from specops.data.generate import generate_dataset
from specops.data.h5write import GuardedFile
from specops.data.io import read_info, verify_file
from specops.data.schema import layout_for
from specops.data.writer import ArraySource, write_dataset
from tests.data.problems import HeatProblem

OP = layout_for("operator", 2)


def _fields(n: int, seed: int = 0) -> dict[str, ArraySource]:
    rng = np.random.default_rng(seed)
    return {"a": ArraySource(rng.standard_normal((n, 1, 16, 16)).astype(np.float32), label="a")}


ATTRS = {"kind": "operator", "input_fields": ["a"], "output_fields": ["a"], "source": "test"}


@pytest.fixture
def disk(monkeypatch):
    """A disk that holds ``disk.free`` more bytes, then fails every write with ENOSPC (as a full disk does)."""

    class Disk:
        free = None

    real = os.pwrite

    def pwrite(fd, data, offset):
        if Disk.free is None:
            return real(fd, data, offset)
        n = min(len(data), Disk.free)
        if n == 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        Disk.free -= n
        return real(fd, memoryview(data)[:n], offset)

    monkeypatch.setattr(os, "pwrite", pwrite)
    return Disk


def test_full_disk_keeps_the_previous_file_and_hdf5_stays_usable(tmp_path, disk):
    out = tmp_path / "d.h5"
    write_dataset(out, _fields(4), layouts={"a": OP}, attrs=ATTRS)
    before = out.read_bytes()
    disk.free = 20_000  # the new file needs about 280 kB
    with pytest.raises(OutOfSpaceError) as info:
        write_dataset(out, _fields(1000, seed=1), layouts={"a": OP}, attrs=ATTRS)
    assert str(info.value).startswith(f"no space left on the device while writing {out}: free disk space")
    assert out.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["d.h5"]
    disk.free = None  # space freed: the library writes normally again in the same process
    write_dataset(out, _fields(1000, seed=1), layouts={"a": OP}, attrs=ATTRS)
    assert read_info(out).attrs["n_samples"] == 1000 and verify_file(out) == []


def test_full_disk_during_generation_keeps_the_finished_batches(tmp_path, disk):
    reference = generate_dataset(HeatProblem(), 8, tmp_path / "ref.h5", batch_size=2, progress=False)
    batch_bytes = generate_dataset(HeatProblem(), 2, tmp_path / "one.h5", progress=False).stat().st_size
    out = tmp_path / "d.h5"
    disk.free = int(2.5 * batch_bytes)  # two batch files fit, the third does not
    with pytest.raises(OutOfSpaceError) as info:
        generate_dataset(HeatProblem(), 8, out, batch_size=2, progress=False)
    partial = tmp_path / "d.h5.partial"
    message = str(info.value)
    assert message.startswith(f"no space left on the device while writing {partial}/samples_")
    assert message.endswith(
        f"free disk space, then rerun the same command: it resumes from the finished batches in {partial}"
    )
    kept = sorted(p.name for p in partial.iterdir())
    assert kept == ["samples_0000000000_0000000002.h5", "samples_0000000002_0000000004.h5"]
    disk.free = None
    again = HeatProblem()
    generate_dataset(again, 8, out, batch_size=2, progress=False)
    assert again.calls == 2  # only the two batches that did not fit
    assert read_info(out).fields["u"].sha256 == read_info(reference).fields["u"].sha256


def test_guard_reads_back_what_it_held_after_a_failure(tmp_path, disk):
    guard = GuardedFile(tmp_path / "x", tmp_path / "target.h5")
    disk.free = 6
    assert guard.write(b"0123456789") == 10  # HDF5 is told the write succeeded
    guard.seek(20)
    guard.write(b"abc")
    guard.seek(0)
    assert guard.read(23) == b"0123456789" + bytes(10) + b"abc"  # held bytes, a hole, held bytes
    assert guard.seek(0, os.SEEK_END) == 23
    guard.close()
    assert (tmp_path / "x").read_bytes() == b"012345"  # what really reached the disk
    with pytest.raises(OutOfSpaceError, match=r"while writing .*target\.h5"):
        guard.check()
