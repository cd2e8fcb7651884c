"""Settings for the whole suite."""

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Test tensors are tiny: one thread avoids OpenMP barrier waits, which on a busy 2-core machine made
    the suite 5x slower with two threads than with one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
