"""The one seed check: integers in [0, 2**63), used by generation, the problems and the samplers alike."""

import re

import numpy as np
import pytest
import torch

from specops.data.generate import generate_dataset
from specops.seeding import SEED_LIMIT, check_seed, check_seed_range, check_seeds
from specops.solvers.problems import make_problem
from specops.solvers.random_fields import GaussianRandomField, RandomSines
from tests.data.problems import HeatProblem


def test_valid_seeds_are_integers_from_zero_below_two_to_the_63():
    assert check_seed(0) == 0 and check_seed(SEED_LIMIT - 1) == 2**63 - 1
    assert check_seed(np.int64(7)) == 7 and type(check_seed(np.uint8(3))) is int
    assert check_seeds([1, np.int32(2), torch.tensor(3)]) == [1, 2, 3]
    assert check_seed_range(SEED_LIMIT - 4, 4) == SEED_LIMIT - 4


@pytest.mark.parametrize(
    ("seed", "why"),
    [
        (-1, "is out of range"),
        (2**63, "is out of range"),
        (1.5, "is not an integer"),
        (2.0, "is not an integer"),
        ("3", "is not an integer"),
        (None, "is not an integer"),
        (True, "is a bool, not an integer"),
    ],
)
def test_anything_else_is_refused_naming_the_value_and_the_range(seed, why):
    with pytest.raises(
        ValueError, match=re.escape(f"--seed={seed!r} {why}; a seed is an integer in [0, 2**63)")
    ):
        check_seed(seed, "--seed")
    with pytest.raises(ValueError, match=re.escape(f"seeds[1]={seed!r} {why}")):
        check_seeds([0, seed])


def test_a_seed_range_must_stay_below_the_limit():
    with pytest.raises(
        ValueError,
        match=r"--seed=9223372036854775805 with 4 samples needs seeds up to 9223372036854775808, beyond",
    ):
        check_seed_range(SEED_LIMIT - 3, 4, "--seed")


def test_generate_checks_every_seed_before_any_file_is_made(tmp_path):
    for seed, message in [
        (-1, "seed=-1 is out of range"),
        (1.5, "seed=1.5 is not an integer"),
        (SEED_LIMIT - 2, "with 3 samples needs seeds up to"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            generate_dataset(HeatProblem(), 3, tmp_path / "d.h5", seed=seed, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_problems_and_samplers_use_the_same_check():
    problem = make_problem("darcy", resolution=9)
    for sample in (problem.generate, GaussianRandomField((8,)).sample, RandomSines(8, 1.0).sample):
        with pytest.raises(ValueError, match=re.escape("seeds[0]=-1 is out of range")):
            sample([-1])
        with pytest.raises(ValueError, match=re.escape("seeds[1]=0.5 is not an integer")):
            sample([0, 0.5])
