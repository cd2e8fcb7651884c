"""Test sets from data files: unique names, domains, and samples made again by their problem."""

from __future__ import annotations

import math

import torch

from specops.data.generate import generate_dataset
from specops.evaluation.files import domain_lengths, problem_for_file, regenerate, set_names
from specops.solvers.problems import make_problem


def test_names_are_unique_and_show_the_grid():
    names = set_names(["a/d.h5", "b/d.h5", "e.h5", "a/d.h5"], [(9, 9), (9, 9), (9, 9), (17, 17)])
    assert names == ["d@9x9", "d@9x9#2", "e@9x9", "d@17x17"]


def test_domain_from_the_file(tmp_path):
    ks = make_problem("ks", resolution=16, t_final=0.1, save_interval=None, dt=0.05)
    path = generate_dataset(ks, 2, tmp_path / "ks.h5", progress=False)
    assert domain_lengths(path, 1) == [32 * math.pi]


def test_regenerated_samples_are_the_problems_samples_at_the_new_grid(tmp_path):
    darcy = make_problem("darcy", resolution=9, upsample=1)
    path = generate_dataset(
        darcy,
        6,
        tmp_path / "d.h5",
        seed=100,
        progress=False,
        attrs={"overrides": {"resolution": 9, "upsample": 1}},
    )
    assert problem_for_file(path).name == "darcy"
    x, y, problem = regenerate(path, [4, 5], 17)
    fresh = make_problem("darcy", resolution=17, upsample=1).generate([104, 105])  # sample i has seed 100 + i
    assert problem.shape == (17, 17) and x.shape == y.shape == (2, 1, 17, 17)
    assert torch.equal(x.float(), fresh["a"]) and torch.equal(y.float(), fresh["u"])
