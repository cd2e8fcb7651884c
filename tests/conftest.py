"""Settings for the whole suite."""

import os

# Before NumPy loads OpenBLAS: its threads spin on the tiny dense problems of the Krylov solvers (small
# eigenproblems and least squares), 5x slower on a shared 2-core machine than one thread.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest
import torch

# CLI commands run in-process pick their thread count like a user's would; the suite wants one.
os.environ["SPECOPS_THREADS"] = "1"


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Test tensors are tiny: one thread avoids OpenMP barrier waits, which on a busy 2-core machine made
    the suite 5x slower with two threads than with one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
