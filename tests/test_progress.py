"""Progress output: a bar on a terminal, plain bounded lines on a pipe or log file."""

import io

import pytest

from specops import progress as progress_module
from specops.progress import Progress
from specops.training.logging import RunLogger


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(progress_module.time, "perf_counter", fake)
    return fake


def test_a_pipe_gets_a_line_every_interval_and_no_carriage_returns(clock):
    out = io.StringIO()  # not a terminal
    bar = Progress(1000, desc="train", unit="step", file=out, interval=10.0)
    for _ in range(1000):  # 1000 steps in 50 s: one line per 10 s, not one per step
        clock.now += 0.05
        bar.set_postfix(loss=0.5)
        bar.update()
    bar.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert 5 <= len(lines) <= 6, lines
    assert lines[-1].startswith("train: 1000/1000 steps (100%)") and "loss=0.5" in lines[-1]
    assert "eta" in lines[0]


def test_a_disabled_progress_prints_nothing(clock):
    out = io.StringIO()
    bar = Progress(10, file=out, enabled=False)
    bar.update(10)
    bar.close()
    assert out.getvalue() == ""


def test_run_logger_progress_on_a_pipe_is_line_based(tmp_path, monkeypatch, clock):
    out = io.StringIO()
    monkeypatch.setattr(progress_module.sys, "stderr", out)
    logger = RunLogger(tmp_path, total_steps=100, progress=True, tensorboard=False)
    for _ in range(100):
        clock.now += 1.0
        logger.progress(1, loss=0.25, lr=1e-3)
    logger.close()
    text = out.getvalue()
    assert "\r" not in text and 10 <= len(text.splitlines()) <= 11
