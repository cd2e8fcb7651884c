import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import specops
from specops.atomic import OutOfSpaceError, atomic_path
from specops.data.io import read_info


def test_success_replaces_and_failure_keeps_old(tmp_path):
    target = tmp_path / "sub" / "file.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("one")
    assert target.read_text() == "one"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "one"
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.txt"]


def test_final_file_has_umask_permissions(tmp_path):
    target = tmp_path / "f.bin"
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"x")
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_space_errors_wrapped_by_a_library_are_one_line_and_keep_the_old_file(tmp_path):
    target = tmp_path / "ckpt.pt"
    target.write_text("previous")

    def torch_like_failure(tmp):
        tmp.write_text("half")
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:  # torch.save reports a failed write of its file object like this
            raise RuntimeError(
                "[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534"
            ) from None

    with pytest.raises(OutOfSpaceError) as info, atomic_path(target) as tmp:
        torch_like_failure(tmp)
    assert str(info.value) == (
        f"no space left on the device while writing {target}: free disk space or choose another output "
        f"directory; the previous ckpt.pt, if any, is intact"
    )
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(target)
    with pytest.raises(OutOfSpaceError, match=r"file size limit \(ulimit -f\) was reached while writing"):
        with atomic_path(target) as tmp:
            raise OSError(errno.EFBIG, "File too large")
    assert target.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]
    with pytest.raises(RuntimeError, match="unrelated"), atomic_path(target):
        raise RuntimeError("unrelated")  # other errors pass through unchanged


# Runs every writer under a file size limit (as `ulimit -f` sets it; SIGXFSZ ignored, as Python does, so
# writes fail with EFBIG) and reports exit codes and messages as JSON. Before the HDF5 guard the CLI ended
# in a flood of h5py tracebacks and a segmentation fault (exit 139) at interpreter exit.
_LIMITED = """
import contextlib, io, json, resource, signal, sys, types
from pathlib import Path
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
from tests.data.problems import HeatProblem
sys.modules["specops.solvers.problems"] = types.SimpleNamespace(make_problem=lambda name, **kw: HeatProblem(**kw))
import numpy as np
import specops
from specops.cli import main

root = Path(sys.argv[1])
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)

def limited(nbytes, fn):
    err = io.StringIO()
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
    try:
        with contextlib.redirect_stderr(err):
            code = fn()
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    return [code, err.getvalue()]

def save(width):
    try:
        specops.save(specops.FNO((8, 8), 1, 1, width, 2), root / "m.pt")
    except OSError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0

gen = ["generate", "heat", "--samples", "24", "--resolution", "16", "--batch-size", "4", "--no-progress"]
np.savez(root / "small.npz", a=np.ones((2, 8, 8)), u=np.ones((2, 8, 8)))
np.savez(root / "big.npz", a=np.ones((200, 8, 8)), u=np.ones((200, 8, 8)))
conv = ["--from", "npz", "--out", str(root / "c.h5"), "--input", "a", "--output", "u", "--no-progress"]
out = {
    "generate": limited(50_000, lambda: main([*gen, "--out", str(root / "g.h5")])),
    "convert_small": limited(10**8, lambda: main(["convert", str(root / "small.npz"), *conv])),
    "convert": limited(50_000, lambda: main(["convert", str(root / "big.npz"), *conv, "--overwrite"])),
    "shards": [main([*gen, "--out", str(root / f"s{k}.h5"), "--shard", f"{k}/2"]) for k in (1, 2)],
    "merge": limited(50_000, lambda: main(["merge", str(root / "m.h5"), str(root / "s1.h5"), str(root / "s2.h5"), "--no-progress"])),
    "save_small": save(8),
    "save": limited(100_000, lambda: save(16)),
}
print(json.dumps(out))
"""


def test_file_size_limit_in_every_writer_is_one_line_and_keeps_earlier_data(tmp_path):
    repo = Path(__file__).parents[1]
    proc = subprocess.run(
        [sys.executable, "-c", _LIMITED, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=repo,
        env={**os.environ, "PYTHONPATH": f"{repo / 'src'}{os.pathsep}{repo}", "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]  # no segmentation fault at exit
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    out = json.loads(proc.stdout.splitlines()[-1])
    limit = "the file size limit (ulimit -f) was reached while writing"
    for name, target in [("generate", "g.h5"), ("convert", "c.h5"), ("merge", "m.h5"), ("save", "m.pt")]:
        code, err = out[name]
        assert code == 2, (name, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and f"{limit} {tmp_path / target}" in lines[0], (name, err)
    # generate: every batch is kept, and the same command finishes the job
    assert "rerun the same command: it resumes from the finished batches in" in out["generate"][1]
    assert len(list((tmp_path / "g.h5.partial").glob("samples_*.h5"))) == 6
    assert not (tmp_path / "g.h5").exists()
    # the previous files are intact, and no temporary file is left behind
    assert out["convert_small"][0] == 0 and read_info(tmp_path / "c.h5").attrs["n_samples"] == 2
    assert out["shards"] == [0, 0] and not (tmp_path / "m.h5").exists()
    assert out["save_small"] == 0 and specops.load(tmp_path / "m.pt").init_args["hidden_channels"] == 8
    assert not list(tmp_path.rglob("*.tmp")) and not list(tmp_path.glob("*.lock"))
