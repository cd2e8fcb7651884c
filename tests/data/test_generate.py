"""Generation: exact data, per-sample seeds, resumption after an interruption, shards that merge exactly."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from specops.data.generate import generate_dataset
from specops.data.io import read_info, verify_file
from specops.data.shards import merge_shards, parse_shard, shard_range
from specops.locking import LockedError, exclusive_lock
from specops.solvers.integrate import BlowUpError
from tests.data.problems import HeatProblem
from tests.helpers import assert_close


def _fields(path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as h5:
        return {name: d[...] for name, d in h5["fields"].items()}


def _sums(path) -> dict[str, str]:
    return {name: f.sha256 for name, f in read_info(path).fields.items()}


def test_generated_heat_data_solves_the_heat_equation(tmp_path):
    problem = HeatProblem(resolution=16, nu=0.02, T=0.3)
    out = generate_dataset(problem, 6, tmp_path / "heat.h5", seed=5, batch_size=4, progress=False)
    data = _fields(out)
    # Reference: the heat semigroup applied with NumPy's FFT to the stored input (a second implementation).
    k = 2 * np.pi * np.fft.fftfreq(16, d=1 / 16)
    k2 = k[:, None] ** 2 + k[None, :] ** 2
    a = data["a"][:, 0].astype(np.float64)
    u_ref = np.fft.ifft2(np.fft.fft2(a) * np.exp(-0.02 * 0.3 * k2)).real
    assert_close(
        torch.from_numpy(data["u"][:, 0]).double(), torch.from_numpy(u_ref), rtol=1e-5, atol=1e-6, what="u(T)"
    )
    assert np.abs(data["u"]).max() < np.abs(a).max()  # diffusion damps
    info = read_info(out)
    assert info.seeds.tolist() == list(range(5, 11))
    assert info.attrs["pde"] == "heat" and info.attrs["kind"] == "operator"
    assert info.attrs["input_fields"] == ["a"] and info.attrs["output_fields"] == ["u"]
    for key in (
        "solver",
        "stepper",
        "dt",
        "domain",
        "resolution",
        "boundary",
        "created",
        "specops_version",
        "seed",
    ):
        assert key in info.attrs
    assert info.attrs["parameters"]["nu"] == 0.02
    assert verify_file(out) == []
    assert not (tmp_path / "heat.h5.partial").exists()


def test_sample_depends_only_on_its_seed(tmp_path):
    out = generate_dataset(HeatProblem(), 5, tmp_path / "d.h5", seed=100, batch_size=2, progress=False)
    alone = HeatProblem().generate([103])
    assert torch.equal(torch.from_numpy(_fields(out)["a"][3:4]), alone["a"])


def test_interrupted_generation_resumes_to_the_same_file(tmp_path):
    full = generate_dataset(HeatProblem(), 10, tmp_path / "full.h5", batch_size=3, progress=False)
    out = tmp_path / "resumed.h5"
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(HeatProblem(fail_on_call=3), 10, out, batch_size=3, progress=False)
    assert not out.exists()
    kept = sorted(p.name for p in (tmp_path / "resumed.h5.partial").glob("*.h5"))
    assert kept == ["samples_0000000000_0000000003.h5", "samples_0000000003_0000000006.h5"]
    # A torn temporary file from the interrupted write is ignored.
    (tmp_path / "resumed.h5.partial" / ".samples_x.h5.tmp").write_bytes(b"torn")
    again = HeatProblem()
    generate_dataset(again, 10, out, batch_size=3, progress=False)
    assert again.calls == 2  # only the two missing batches (6..8, 9)
    assert _sums(out) == _sums(full)
    for name, value in _fields(full).items():
        assert np.array_equal(_fields(out)[name], value)
    assert not (tmp_path / "resumed.h5.partial").exists()


def test_resume_with_other_arguments_is_refused(tmp_path):
    out = tmp_path / "d.h5"
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(HeatProblem(fail_on_call=2), 6, out, batch_size=2, progress=False)
    with pytest.raises(ValueError, match=r"batch_size.*delete"):
        generate_dataset(HeatProblem(), 6, out, batch_size=3, progress=False)
    with pytest.raises(ValueError, match="parameters"):
        generate_dataset(HeatProblem(nu=0.5), 6, out, batch_size=2, progress=False)
    with pytest.raises(ValueError, match="shard: 'none' then, '2/3' now"):
        generate_dataset(HeatProblem(), 6, out, batch_size=2, shard="2/3", progress=False)
    assert len(list((tmp_path / "d.h5.partial").glob("*.h5"))) == 1  # the finished batch is still there


def test_rerunning_a_finished_generation_keeps_the_file(tmp_path):
    out = generate_dataset(HeatProblem(), 4, tmp_path / "d.h5", batch_size=2, progress=False)
    before = out.stat().st_mtime_ns
    again = HeatProblem()
    with exclusive_lock(out):  # nothing to write: works while another process holds the lock (or read-only)
        generate_dataset(again, 4, out, batch_size=2, progress=False)
    assert again.calls == 0 and out.stat().st_mtime_ns == before
    with pytest.raises(FileExistsError, match="--overwrite"):
        generate_dataset(HeatProblem(), 4, out, seed=1, batch_size=2, progress=False)
    generate_dataset(HeatProblem(), 4, out, seed=1, batch_size=2, progress=False, overwrite=True)
    assert read_info(out).attrs["seed"] == 1


def test_nan_in_a_batch_names_the_seed_and_keeps_finished_batches(tmp_path):
    out = tmp_path / "d.h5"
    with pytest.raises(ValueError, match=r"sample\(s\) 5 \(seed 5\).*kept"):
        generate_dataset(HeatProblem(nan_on_call=2), 8, out, batch_size=3, progress=False)
    assert [p.name for p in (tmp_path / "d.h5.partial").glob("*.h5")] == ["samples_0000000000_0000000003.h5"]


@pytest.mark.parametrize(("n", "batch", "shards"), [(10, 3, 2), (10, 3, 4), (7, 1, 3), (5, 5, 1)])
def test_shards_cover_whole_batches_once(n, batch, shards):
    ranges = [shard_range(n, batch, (k, shards)) for k in range(1, shards + 1)]
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    assert all(lo % batch == 0 for lo, _ in ranges)


def test_shard_arguments_are_checked():
    assert parse_shard("2/4") == (2, 4)
    for bad in ("0/4", "5/4", "2", "a/b"):
        with pytest.raises(ValueError, match=r"K/N|between 1 and N"):
            parse_shard(bad)
    with pytest.raises(ValueError, match="smaller --batch-size"):
        shard_range(4, 2, (1, 3))


def test_merged_shards_equal_an_unsharded_run(tmp_path):
    full = generate_dataset(
        HeatProblem(n_times=4), 9, tmp_path / "full.h5", seed=3, batch_size=2, progress=False
    )
    shards = [
        generate_dataset(
            HeatProblem(n_times=4),
            9,
            tmp_path / f"s{k}.h5",
            seed=3,
            batch_size=2,
            shard=f"{k}/3",
            progress=False,
        )
        for k in (1, 2, 3)
    ]
    merged = merge_shards(tmp_path / "merged.h5", shards[::-1], progress=False)
    assert _sums(merged) == _sums(full)
    assert np.array_equal(_fields(merged)["u"], _fields(full)["u"])
    assert np.array_equal(read_info(merged).seeds, read_info(full).seeds)
    assert verify_file(merged) == []
    with pytest.raises(ValueError, match=r"6 of 9.*missing shards"):
        merge_shards(tmp_path / "bad.h5", shards[:2], progress=False)
    with pytest.raises(ValueError, match="overlap"):
        merge_shards(tmp_path / "bad.h5", [shards[0], shards[0], shards[2]], progress=False)
    other = generate_dataset(
        HeatProblem(n_times=4), 9, tmp_path / "o.h5", seed=4, batch_size=2, shard="2/3", progress=False
    )
    with pytest.raises(ValueError, match="seed"):
        merge_shards(tmp_path / "bad.h5", [shards[0], other, shards[2]], progress=False)
    assert not (tmp_path / "bad.h5").exists()


def test_problem_that_breaks_its_promises_is_reported(tmp_path):
    class Liar(HeatProblem):
        def generate(self, seeds, *, device=None, dtype=torch.float32):
            return {"a": super().generate(seeds)["a"]}

    with pytest.raises(ValueError, match="no field 'u'"):
        generate_dataset(Liar(), 2, tmp_path / "d.h5", progress=False)


_KILLED_RUN = """
import sys, time
from specops.data.generate import generate_dataset
from tests.data.problems import HeatProblem

class Slow(HeatProblem):
    def generate(self, seeds, **kw):
        if self.calls == 2:
            time.sleep(60)  # killed here, after two batches were written
        return super().generate(seeds, **kw)

generate_dataset(Slow(), 8, sys.argv[1], batch_size=2, progress=False)
"""


def test_generation_killed_without_warning_resumes(tmp_path):
    out = tmp_path / "d.h5"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_RUN, str(out)], cwd=Path(__file__).parents[2])
    partial = tmp_path / "d.h5.partial"
    deadline = time.monotonic() + 60
    while len(list(partial.glob("samples_*.h5"))) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    try:
        # A second process asking for the same output fails at once, naming the first one's lock file.
        with pytest.raises(LockedError, match=rf"d\.h5 is being written by .*pid {proc.pid}.*d\.h5\.lock"):
            generate_dataset(HeatProblem(), 8, out, batch_size=2, progress=False)
    finally:
        proc.kill()  # SIGKILL: no cleanup runs, the lock file stays behind
        proc.wait()
    assert len(list(partial.glob("samples_*.h5"))) == 2
    again = HeatProblem()
    generate_dataset(again, 8, out, batch_size=2, progress=False)
    assert again.calls == 2
    full = generate_dataset(HeatProblem(), 8, tmp_path / "full.h5", batch_size=2, progress=False)
    assert _sums(out) == _sums(full)


def test_the_kind_is_read_from_the_layout_not_guessed(tmp_path):
    """A layout that is not the schema's is refused before anything is written (no guessing by substring)."""
    problem = HeatProblem()
    fields = problem.fields()
    fields["u"]["layout"] = "sample,channel,x,y"
    problem.fields = lambda: fields
    with pytest.raises(
        ValueError, match="field 'u': layout 'sample,channel,x,y' is not a specops field layout"
    ):
        generate_dataset(problem, 2, tmp_path / "d.h5", progress=False)
    fields["u"]["layout"] = "sample time channel x y"  # a trajectory layout on an operator-shaped field
    with pytest.raises(ValueError, match=r"shape \(1, 16, 16\) does not fit its layout"):
        generate_dataset(problem, 2, tmp_path / "d.h5", progress=False)
    assert not (tmp_path / "d.h5").exists() and not (tmp_path / "d.h5.partial").exists()


@pytest.mark.gpu
def test_generation_on_cuda_matches_cpu(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    gpu = generate_dataset(HeatProblem(), 4, tmp_path / "g.h5", device="cuda", progress=False)
    cpu = generate_dataset(HeatProblem(), 4, tmp_path / "c.h5", progress=False)
    assert read_info(gpu).attrs["device"] == "cuda" and verify_file(gpu) == []
    assert_close(
        torch.from_numpy(_fields(gpu)["u"]),
        torch.from_numpy(_fields(cpu)["u"]),
        rtol=1e-5,
        atol=1e-6,
        what="u",
    )


def test_solver_blow_up_names_the_seeds_and_keeps_finished_batches(tmp_path):
    class BlowsUp(HeatProblem):
        def generate(self, seeds, **kw):
            data = super().generate(seeds, **kw)
            if self.calls == 2:  # the solver reports batch indices, as integrate's BlowUpError does
                raise BlowUpError([1], 0.25, 0.01)
            return data

    with pytest.raises(ValueError) as info:
        generate_dataset(BlowsUp(), 6, tmp_path / "d.h5", seed=10, batch_size=2, progress=False)
    message = str(info.value)
    assert "blew up (NaN or inf) in sample(s) 3 (seed 13) by t=0.25 with dt=0.01" in message
    assert (
        message.endswith(f"Finished batches are kept in {tmp_path / 'd.h5.partial'}") and "\n" not in message
    )
    assert [p.name for p in (tmp_path / "d.h5.partial").iterdir()] == ["samples_0000000000_0000000002.h5"]


def test_unavailable_device_is_refused_before_any_file_is_made(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device, message in [
        ("cuda", "--device cuda: no CUDA device is available; use --device cpu"),
        ("cuda:1", "--device cuda:1: no CUDA device is available; use --device cpu"),
        ("gpu", "--device gpu: not a device name; use --device cpu, cuda, cuda:N or auto"),
        ("meta", "--device meta: meta tensors hold no data"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            generate_dataset(HeatProblem(), 2, tmp_path / "d.h5", device=device, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_merge_keeps_the_same_merge_and_refuses_to_replace_another(tmp_path):
    def shards(seed):
        return [
            generate_dataset(
                HeatProblem(),
                6,
                tmp_path / f"s{seed}{k}.h5",
                seed=seed,
                batch_size=2,
                shard=f"{k}/2",
                progress=False,
            )
            for k in (1, 2)
        ]

    first, other = shards(0), shards(1)
    merged = merge_shards(tmp_path / "m.h5", first, progress=False)
    before, stamp = merged.read_bytes(), merged.stat().st_mtime_ns
    assert merge_shards(merged, first[::-1], progress=False) == merged  # the same merge again: nothing to do
    assert merged.stat().st_mtime_ns == stamp
    with pytest.raises(
        FileExistsError, match=r"m\.h5 already holds a different dataset \(differs in .*seed.*--overwrite"
    ):
        merge_shards(merged, other, progress=False)
    assert merged.read_bytes() == before
    merge_shards(merged, other, progress=False, overwrite=True)
    assert read_info(merged).attrs["seed"] == 1 and verify_file(merged) == []
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(FileExistsError, match=r"junk\.h5 exists and is not a readable dataset"):
        merge_shards(tmp_path / "junk.h5", first, progress=False)
    assert (tmp_path / "junk.h5").read_bytes() == b"not hdf5"
