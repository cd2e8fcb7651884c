import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Solver tests use tiny grids: one thread avoids OpenMP barrier waits on a shared CPU (100x there)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
