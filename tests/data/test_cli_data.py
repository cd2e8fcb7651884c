"""End to end through the command line: generate (whole, sharded, resumed), merge, info --verify, convert.

The CLI's ``generate`` builds problems with ``specops.solvers.problems.make_problem``; these tests put the
exact heat problem behind that name so they do not depend on the solvers.
"""

from __future__ import annotations

import os
import sys
import types

import h5py
import numpy as np
import pytest
import torch

from specops.cli import main
from specops.data.io import read_info
from specops.locking import exclusive_lock
from tests.data.problems import HeatProblem


class _Solvers(list):
    """Problems made through the fake ``make_problem``; ``extra`` adds constructor arguments."""

    extra: dict


@pytest.fixture
def heat_solvers(monkeypatch):
    made = _Solvers()
    made.extra = {}

    def make_problem(name, **overrides):
        assert name == "heat"
        problem = HeatProblem(**overrides, **made.extra)
        made.append(problem)
        return problem

    monkeypatch.setitem(
        sys.modules, "specops.solvers.problems", types.SimpleNamespace(make_problem=make_problem)
    )
    return made


def test_generate_and_train_read_set_values_alike(heat_solvers, tmp_path):
    from specops.config import load_config

    out = tmp_path / "d.h5"
    args = ["generate", "heat", "--samples", "2", "--resolution", "8", "--out", str(out), "--no-progress"]
    assert main([*args, "--set", "nu=1e-3"]) == 0
    # YAML 1.1 reads 1e-3 as a string; both commands read it as the number train's config does
    assert read_info(out).attrs["overrides"]["nu"] == 1e-3 == load_config(None, ["optim.lr=1e-3"]).optim.lr


def test_generate_info_verify(heat_solvers, tmp_path, capsys):
    out = tmp_path / "d.h5"
    args = ["generate", "heat", "--samples", "5", "--resolution", "8", "--out", str(out), "--seed", "3"]
    assert main([*args, "--set", "nu=0.05", "--set", "T=0.25", "--batch-size", "2", "--no-progress"]) == 0
    assert heat_solvers[0].nu == 0.05 and heat_solvers[0].resolution == 8  # typed overrides reach the problem
    attrs = read_info(out).attrs
    assert attrs["overrides"] == {"nu": 0.05, "T": 0.25, "resolution": 8}
    assert attrs["command"].startswith(
        "specops generate heat --samples 5 --seed 3 --resolution 8 --set nu=0.05"
    )
    capsys.readouterr()
    assert main(["info", str(out), "--verify"]) == 0
    text = capsys.readouterr().out
    assert "5x1x8x8" in text and "verified" in text and "pde              heat" in text
    with h5py.File(out, "r+") as h5:
        h5["fields"]["u"][1] *= 2
    assert main(["info", str(out), "--verify"]) == 1
    assert "field 'u' sample 1 does not match its checksum" in capsys.readouterr().err
    assert main(["generate", "heat", "--samples", "2", "--out", str(out), "--set", "bad"]) == 2
    assert "key=value" in capsys.readouterr().err


def test_sharded_generation_merges_to_the_whole(heat_solvers, tmp_path, capsys):
    base = ["generate", "heat", "--samples", "7", "--resolution", "8", "--batch-size", "2", "--no-progress"]
    assert main([*base, "--out", str(tmp_path / "all.h5")]) == 0
    for k in (1, 2):
        assert main([*base, "--out", str(tmp_path / f"s{k}.h5"), "--shard", f"{k}/2"]) == 0
    merged = tmp_path / "m.h5"
    assert (
        main(["merge", str(merged), str(tmp_path / "s2.h5"), str(tmp_path / "s1.h5"), "--no-progress"]) == 0
    )
    whole, joined = read_info(tmp_path / "all.h5"), read_info(merged)
    assert {k: f.sha256 for k, f in whole.fields.items()} == {k: f.sha256 for k, f in joined.fields.items()}
    assert main(["merge", str(tmp_path / "x.h5"), str(tmp_path / "s1.h5"), "--no-progress"]) == 2
    assert "missing shards" in capsys.readouterr().err


def test_interrupted_cli_generation_resumes(heat_solvers, tmp_path, capsys):
    out = tmp_path / "d.h5"
    args = [
        "generate",
        "heat",
        "--samples",
        "6",
        "--resolution",
        "8",
        "--batch-size",
        "2",
        "--out",
        str(out),
        "--no-progress",
    ]
    heat_solvers.extra["fail_on_call"] = 2
    assert main(args) == 130
    assert "run the same command again to resume" in capsys.readouterr().err
    heat_solvers.extra.clear()
    assert main(args) == 0
    assert heat_solvers[-1].calls == 2 and read_info(out).attrs["n_samples"] == 6


def test_convert_command(tmp_path, capsys):
    np.savez(tmp_path / "d.npz", a=np.ones((3, 4, 4)), u=np.zeros((3, 4, 4)))
    args = ["convert", str(tmp_path / "d.npz"), "--from", "npz", "--out", str(tmp_path / "d.h5")]
    assert main([*args, "--input", "a", "--output", "u", "--no-progress"]) == 0
    assert read_info(tmp_path / "d.h5").fields["a"].shape == (3, 1, 4, 4)
    relayout = [*args, "--input", "a", "--output", "u", "--layout", "u=sample x time", "--no-progress"]
    assert main(relayout) == 2  # a different dataset is already there
    assert "already holds a different dataset" in capsys.readouterr().err
    assert main([*relayout, "--overwrite"]) == 0
    assert read_info(tmp_path / "d.h5").fields["u"].layout == "sample time channel x"
    assert main([*args, "--input", "a", "--output", "nope", "--no-progress"]) == 2
    assert "has no array 'nope'" in capsys.readouterr().err


def test_generate_on_a_missing_device_is_one_line_and_makes_no_file(
    heat_solvers, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    args = ["generate", "heat", "--samples", "2", "--out", str(tmp_path / "d.h5"), "--no-progress"]
    assert main([*args, "--device", "cuda"]) == 2
    assert capsys.readouterr().err == (
        "specops generate: error: --device cuda: no CUDA device is available; use --device cpu\n"
    )
    assert main([*args, "--device", "tpu0"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_solver_blow_up_names_the_seeds(tmp_path, capsys):
    out = tmp_path / "k.h5"
    args = ["generate", "kdv", "--samples", "2", "--resolution", "32", "--batch-size", "2", "--seed", "2"]
    assert main([*args, "--set", "dt=0.5", "--out", str(out), "--no-progress"]) == 2  # far above KdV's limit
    err = capsys.readouterr().err
    assert err.startswith(
        "specops generate: error: problem 'kdv': the solver blew up (NaN or inf) in sample(s) "
    )
    assert "in sample(s) 1 (seed 3) by t=" in err and err.count("\n") == 1


def test_a_second_writer_of_an_output_fails_at_once(heat_solvers, tmp_path, capsys):
    gen = ["generate", "heat", "--samples", "4", "--resolution", "8", "--batch-size", "2", "--no-progress"]
    for k in (1, 2):
        assert main([*gen, "--out", str(tmp_path / f"s{k}.h5"), "--shard", f"{k}/2"]) == 0
    np.savez(tmp_path / "d.npz", a=np.ones((3, 4, 4)), u=np.zeros((3, 4, 4)))
    out = tmp_path / "out.h5"
    commands = {
        "generate": [*gen, "--out", str(out)],
        "convert": ["convert", str(tmp_path / "d.npz"), "--from", "npz", "--out", str(out), "--output", "u"],
        "merge": ["merge", str(out), str(tmp_path / "s1.h5"), str(tmp_path / "s2.h5")],
    }
    capsys.readouterr()
    with exclusive_lock(out, what="dataset file"):  # as another `specops` process writing out.h5 would
        for name, argv in commands.items():
            assert main([*argv, "--no-progress"]) == 2
            err = capsys.readouterr().err
            assert err.startswith(
                f"specops {name}: error: dataset file {out} is being written by another process"
            )
            assert (
                f"pid {os.getpid()}" in err and f"its lock file is {out}.lock" in err and err.count("\n") == 1
            )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz", "s1.h5", "s2.h5"]


def test_merge_refuses_to_replace_a_different_file(heat_solvers, tmp_path, capsys):
    gen = ["generate", "heat", "--samples", "4", "--resolution", "8", "--batch-size", "2", "--no-progress"]
    for k in (1, 2):
        assert main([*gen, "--out", str(tmp_path / f"s{k}.h5"), "--shard", f"{k}/2"]) == 0
    merged = tmp_path / "all.h5"
    assert main([*gen, "--out", str(merged), "--seed", "5"]) == 0
    before = merged.read_bytes()
    merge = ["merge", str(merged), str(tmp_path / "s1.h5"), str(tmp_path / "s2.h5"), "--no-progress"]
    capsys.readouterr()
    assert main(merge) == 2
    err = capsys.readouterr().err
    assert "already holds a different dataset" in err and "--overwrite" in err and err.count("\n") == 1
    assert merged.read_bytes() == before
    assert main([*merge, "--overwrite"]) == 0 and read_info(merged).attrs["seed"] == 0


def test_info_on_damaged_metadata_is_one_line(heat_solvers, tmp_path, capsys):
    out = tmp_path / "d.h5"
    assert (
        main(["generate", "heat", "--samples", "2", "--resolution", "8", "--out", str(out), "--no-progress"])
        == 0
    )
    with h5py.File(out, "r+") as h5:
        h5.attrs["parameters"] = "nu: 0.01"  # listed in json_attrs, but YAML, not JSON
    capsys.readouterr()
    assert main(["info", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"specops info: error: {out}: root attribute 'parameters'='nu: 0.01' is listed as JSON"
    )
    assert err.count("\n") == 1
    with h5py.File(out, "r+") as h5:
        del h5.attrs["parameters"]
        del h5["fields"]["u"]
        h5["fields"].create_group("u")
    assert main(["info", str(out), "--verify"]) == 1
    assert f"{out}: /fields/u is a group, not an array" in capsys.readouterr().err
