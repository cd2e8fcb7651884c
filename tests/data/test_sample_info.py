"""Per-sample solver statistics in files: written by generate, kept by merge, non-converged samples flagged."""

import h5py
import numpy as np
import pytest

from specops.cli import main
from specops.data.generate import generate_dataset
from specops.data.io import flagged_samples, read_info, verify_file
from specops.data.shards import merge_shards
from specops.data.writer import ArraySource, write_dataset
from specops.solvers.problems import make_problem

SOLVER = {"method": "skr", "rtol": 1e-8, "recycle": 4, "restart": 12, "precond": "none"}


def test_generate_stores_iterations_and_residuals_per_sample_and_merge_keeps_them(tmp_path):
    problem = make_problem("helmholtz", resolution=9, k0=5.0, solver=SOLVER)
    whole = generate_dataset(problem, 6, tmp_path / "whole.h5", batch_size=3, progress=False)
    info = read_info(whole)
    assert set(info.sample_info) == {"iterations", "matvecs", "residual", "converged", "solve_order"}
    assert (info.sample_info["converged"] == 1).all() and (info.sample_info["residual"] <= 1e-8).all()
    assert info.sample_info["iterations"].dtype == np.int64 and (info.sample_info["iterations"] > 0).all()
    # each batch is solved on its own: the solve order is a permutation of the batch, starting at its first
    order = info.sample_info["solve_order"]
    assert sorted(order[:3]) == [0, 1, 2] and sorted(order[3:]) == [0, 1, 2] and order[0] == order[3] == 0
    assert info.attrs["parameters"]["linear_solver"]["method"] == "skr"
    assert verify_file(whole) == []
    shards = [
        generate_dataset(problem, 6, tmp_path / f"s{k}.h5", batch_size=3, shard=f"{k}/2", progress=False)
        for k in (1, 2)
    ]
    merged = read_info(merge_shards(tmp_path / "merged.h5", shards[::-1], progress=False))
    for key, values in info.sample_info.items():
        assert np.array_equal(merged.sample_info[key], values), key
    with h5py.File(whole) as a, h5py.File(tmp_path / "merged.h5") as b:
        assert np.array_equal(a["fields/u"][...], b["fields/u"][...])  # batches depend on their seeds only


def test_non_converged_samples_are_flagged_kept_and_listed_by_verify(tmp_path, capsys):
    out = tmp_path / "capped.h5"
    args = ["generate", "helmholtz", "--samples", "4", "--resolution", "9", "--out", str(out), "--solver"]
    args += ["gmres", "--set", "k0=5.0", "--set", "solver.maxiter=3", "--set", "solver.precond=none"]
    assert main([*args, "--no-progress", "--batch-size", "2"]) == 0  # the run continues
    captured = capsys.readouterr()
    assert "4 sample(s) did not reach the tolerance" in captured.err and "residual" in captured.out
    info = read_info(out)
    assert flagged_samples(info) == [0, 1, 2, 3] and (info.sample_info["residual"] > 1e-8).all()
    assert main(["info", str(out), "--verify"]) == 1
    err = capsys.readouterr().err
    assert "sample 2 (seed 2) did not converge: relative residual" in err and "> rtol 1e-08" in err
    assert main(["info", str(out)]) == 0 and "not converged  4 sample(s)" in capsys.readouterr().out


def test_cli_solver_options_and_their_errors(tmp_path, capsys):
    out = tmp_path / "h.h5"
    args = ["generate", "heat", "--samples", "2", "--resolution", "9", "--out", str(out), "--no-progress"]
    assert main([*args, "--solver", "skr", "--set", "solver.recycle=3", "--set", "n_steps=2"]) == 0
    assert read_info(out).attrs["parameters"]["linear_solver"]["recycle"] == 3
    assert "--solver skr" in read_info(out).attrs["command"]
    bad = ["generate", "helmholtz", "--samples", "2", "--resolution", "9", "--out", str(tmp_path / "x.h5")]
    assert main([*bad, "--solver", "skr", "--set", "solver.recycle=40"]) == 2
    assert "solver.recycle=40 is out of range" in capsys.readouterr().err
    assert main([*bad, "--solver", "gcrodr", "--set", "solver.rtol=1.5"]) == 2
    assert "solver.rtol=1.5 must be in (0, 1)" in capsys.readouterr().err
    burgers = ["generate", "burgers", "--samples", "1", "--out", str(tmp_path / "b.h5"), "--solver", "skr"]
    assert main(burgers) == 2 and "solves no linear systems" in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists() and not (tmp_path / "b.h5").exists()


def test_write_dataset_checks_sample_info(tmp_path):
    fields = {"u": np.zeros((3, 1, 4), np.float32)}
    sources = {k: ArraySource(v) for k, v in fields.items()}
    with pytest.raises(ValueError, match=r"sample_info\['residual'\] has shape \(2,\)"):
        write_dataset(
            tmp_path / "a.h5",
            sources,
            layouts={"u": "sample channel x"},
            attrs={"kind": "operator"},
            sample_info={"residual": np.zeros(2)},
        )
    assert not (tmp_path / "a.h5").exists()
