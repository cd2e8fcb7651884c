"""The registered problems and presets: the data contract, the FNO settings, and stability of what files hold."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from specops.data.schema import layout_for, parse_layout
from specops.registry import PROBLEMS
from specops.solvers.problem import field_layout
from specops.solvers.problems import Problem, make_problem, problem_arguments
from tests.helpers import assert_close

TINY = {
    "burgers": {"resolution": 32, "upsample": 2, "t_final": 0.1, "save_interval": 0.05},
    "burgers-fno": {"resolution": 32, "upsample": 2, "t_final": 0.1},
    "kdv": {"resolution": 32, "upsample": 2, "t_final": 0.1, "save_interval": 0.05},
    "ks": {"resolution": 32, "t_final": 1.0, "save_interval": 0.5},
    "ns": {"resolution": 16, "t_final": 0.02, "save_interval": 0.01},
    "ns-kolmogorov": {"resolution": 16, "upsample": 1, "t_final": 0.02, "save_interval": 0.01},
    "ns-fno-1e-3": {"resolution": 16, "upsample": 1, "t_final": 0.002, "save_interval": 0.001},
    "ns-fno-1e-4": {"resolution": 16, "upsample": 1, "t_final": 0.002, "save_interval": 0.001},
    "ns-fno-1e-5": {"resolution": 16, "upsample": 1, "t_final": 0.002, "save_interval": 0.001},
    "darcy": {"resolution": 16},
    "darcy-fno": {"resolution": 16, "upsample": 1},
    "poisson": {"resolution": 9},
    "poisson-variable": {"resolution": 9},
    "helmholtz": {"resolution": 9, "k0": 5.0},
    "helmholtz-k40": {"resolution": 9, "k0": 5.0},
    "heat": {"resolution": 9, "n_steps": 2},
}


def test_every_registered_problem_has_a_tiny_setting():
    assert set(TINY) == set(PROBLEMS.names())


@pytest.mark.parametrize("name", sorted(TINY))
def test_contract(name):
    problem = make_problem(name, **TINY[name])
    assert isinstance(problem, Problem) and problem.name == name
    data = problem.generate([3, 1, 4])  # (generation speed is measured in benchmarks/bench_data.py)
    fields = problem.fields()
    assert set(data) == set(fields)
    assert set(problem.input_fields) | set(problem.output_fields) <= set(fields)
    coords = problem.coords()
    for key, tensor in data.items():
        spec = fields[key]
        assert tuple(tensor.shape) == (3, *spec["shape"]), key
        assert tensor.dtype == torch.float32 and bool(torch.isfinite(tensor).all())
        kind, ndim = parse_layout(spec["layout"])  # the data schema's own layout string
        axes = spec["layout"].split()
        assert spec["layout"] == layout_for(kind, ndim) and len(axes) == tensor.dim() and spec["description"]
        assert kind == (
            "trajectory" if set(problem.input_fields) == set(problem.output_fields) else "operator"
        )
        for axis, size in zip(axes, tensor.shape):
            if axis in ("x", "y"):
                assert len(coords[axis]) == size, (key, axis)
            if axis == "time":
                assert len(coords["t"]) == size, key
    # sample i depends only on seeds[i]: a shard and a single regeneration agree bit for bit
    alone = problem.generate([4])
    shard = problem.generate([1, 4])
    for key in data:
        assert torch.equal(alone[key][0], data[key][2])
        assert torch.equal(shard[key], data[key][1:])
    meta = problem.metadata()
    assert json.loads(json.dumps(meta)) == meta
    assert (
        meta["problem"] == name and meta["pde"] and meta["boundary"] in ("periodic", "dirichlet", "impedance")
    )
    for key in ("solver", "domain", "resolution", "solver_resolution", "initial_condition", "grid"):
        assert key in meta, key
    double = problem.generate([3], dtype=torch.float64)
    assert all(t.dtype == torch.float64 for t in double.values())
    for key in data:
        assert_close(
            double[key][0].float(),
            data[key][0],
            atol=1e-4 * max(1.0, data[key][0].abs().max().item()),
            rtol=0,
        )


def test_fno_presets_carry_the_benchmark_settings():
    meta = make_problem("ns-fno-1e-4").metadata()
    assert meta["parameters"]["viscosity"] == 1e-4 and meta["time"]["t_final"] == 30.0
    assert meta["stepper"] == "fno_crank_nicolson" and meta["stepper_order"] == 1 and meta["dt"] == 1e-4
    assert meta["resolution"] == [64, 64] and meta["solver_resolution"] == [256, 256]
    assert meta["domain"] == [[0.0, 1.0], [0.0, 1.0]] and meta["boundary"] == "periodic"
    assert meta["parameters"]["forcing"] == {"type": "fno", "amplitude": 0.1, "wavenumber": 1}
    assert meta["initial_condition"]["alpha"] == 2.5 and meta["initial_condition"]["tau"] == 7.0
    assert meta["time"]["save_times"] == [float(t) for t in range(31)]
    burgers = make_problem("burgers-fno")
    meta = burgers.metadata()
    assert meta["parameters"]["viscosity"] == 0.1 and meta["solver_resolution"] == [8192]
    assert meta["initial_condition"]["sigma"] == 25.0 and burgers.input_fields == ("u0",)
    darcy = make_problem("darcy-fno")
    assert darcy.solver_resolution == 421 and darcy.fields()["a"]["shape"] == (1, 85, 85)
    assert make_problem("ns-kolmogorov").metadata()["domain"] == [[0.0, 2 * math.pi]] * 2
    assert darcy.metadata()["boundary"] == "dirichlet" and darcy.metadata()["solver_resolution"] == [421, 421]


def test_subsampling_keeps_the_solver_values_at_the_coarse_nodes():
    fine = make_problem("ns", resolution=32, upsample=1, t_final=0.02, save_interval=0.01)
    coarse = make_problem("ns", resolution=16, upsample=2, t_final=0.02, save_interval=0.01)
    assert torch.equal(coarse.generate([5])["w"], fine.generate([5])["w"][..., ::2, ::2])
    np.testing.assert_allclose(coarse.coords()["x"], fine.coords()["x"][::2])
    darcy_fine = make_problem("darcy", resolution=17)
    darcy_coarse = make_problem("darcy", resolution=9, upsample=2)
    assert torch.equal(darcy_coarse.generate([2])["u"], darcy_fine.generate([2])["u"][..., ::2, ::2])


def test_solver_timing():
    problem = make_problem("darcy", resolution=16)
    assert 0 < problem.solver_seconds_per_sample < 1.0
    assert problem.solver_seconds_per_sample == problem.solver_seconds_per_sample  # measured once
    assert problem.time_solver(2) > 0


def test_bad_settings_are_reported():
    with pytest.raises(ValueError, match="unknown problem 'navier'"):
        make_problem("navier")
    with pytest.raises(ValueError, match="whole number of save_interval"):
        make_problem("ns", t_final=1.0, save_interval=0.3)
    with pytest.raises(ValueError, match="resolution=0"):
        make_problem("burgers", resolution=0)
    with pytest.raises(ValueError, match="forcing='wind'"):
        make_problem("ns", forcing="wind")
    with pytest.raises(ValueError, match="unknown stepper"):
        make_problem("ks", stepper="euler")
    problem = make_problem("ks", **TINY["ks"])
    with pytest.raises(ValueError, match="seeds is empty"):
        problem.generate([])
    with pytest.raises(ValueError, match="sequence of integers"):
        problem.generate(["a"])
    with pytest.raises(ValueError, match=r"dtype=torch\.float16"):
        problem.generate([0], dtype=torch.float16)
    with pytest.raises(ValueError, match="coefficient='smooth' must be 'threshold' or 'lognormal'"):
        make_problem("darcy", coefficient="smooth")


def test_unknown_parameters_are_named_with_the_valid_ones():
    with pytest.raises(ValueError, match=r"problem 'ns' has no parameter 'visocsity'.*viscosity"):
        make_problem("ns", visocsity=1e-4)
    for name in PROBLEMS.names():
        # every argument is accepted under its own name, and the defaults are the preset
        assert make_problem(name, **problem_arguments(name)).metadata() == make_problem(name).metadata()


def test_field_layout_is_the_data_schema_layout():
    for kind in ("operator", "trajectory"):
        for ndim in (1, 2, 3):
            assert field_layout(kind, ndim) == layout_for(kind, ndim)
    with pytest.raises(ValueError, match="kind='pairs'"):
        field_layout("pairs", 1)


# Overrides of every string option and of the operator mode of each family, for the golden metadata.
OVERRIDE_CASES = [
    ("ns", {"resolution": 16, "upsample": 2, "t_final": 0.02, "save_interval": None, "forcing": "none"}),
    ("ns", {"resolution": 16, "forcing": "kolmogorov", "drag": 0.2, "sigma": 3.0, "stepper": "etdrk4"}),
    ("burgers", {"resolution": 16, "stepper": "crank_nicolson_heun", "alpha": 2.5, "tau": 7, "sigma": 49}),
    ("kdv", {"save_interval": None, "n_waves": 3, "max_wavenumber": 2, "nonlinearity": 3, "length": 20}),
    ("ks", {"resolution": 32, "upsample": 2, "save_interval": None, "hyperviscosity": 0.8, "dt": 0.01}),
    (
        "darcy",
        {"resolution": 9, "upsample": 2, "coefficient": "lognormal", "lognormal_scale": 0.5, "n_modes": 6},
    ),
    ("darcy", {"resolution": 12, "forcing": 2.0, "face_average": "arithmetic", "method": "cg", "sigma": 2.0}),
    (
        "darcy",
        {"resolution": 9, "solver": {"method": "skr", "recycle": 4, "restart": 12, "precond": "jacobi"}},
    ),
    ("heat", {"scheme": "crank_nicolson", "coefficient": "threshold", "solver": {"method": "cg"}}),
]
GOLDEN = Path(__file__).with_name("problems_metadata.json")


def test_metadata_is_what_files_written_by_earlier_versions_hold():
    """``metadata()``, field shapes, descriptions and kinds of every preset, unchanged since the golden file.

    The golden was written by the problems module before it was split into objects (commit d6df33a). A
    dataset's root attributes hold ``metadata()``, and ``generate`` resumes a partial run or accepts an
    existing file only when they match: a change here makes earlier files look like other datasets. Update
    the golden only for an intended change, and say so in the commit.
    """
    golden = json.loads(GOLDEN.read_text())
    cases = [(name, {}) for name in PROBLEMS.names()] + OVERRIDE_CASES
    assert set(golden) == {f"{n} {json.dumps(o, sort_keys=True)}" if o else n for n, o in cases}
    for name, overrides in cases:
        problem = make_problem(name, **overrides)
        described = {
            "metadata": json.loads(json.dumps(problem.metadata())),
            "fields": {
                key: [list(spec["shape"]), spec["description"], parse_layout(spec["layout"])[0]]
                for key, spec in problem.fields().items()
            },
            "input_fields": list(problem.input_fields),
            "output_fields": list(problem.output_fields),
        }
        key = f"{name} {json.dumps(overrides, sort_keys=True)}" if overrides else name
        assert described == golden[key], key
