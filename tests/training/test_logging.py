"""Run logs: JSON lines, truncation on resume, the TensorBoard extra."""

from __future__ import annotations

import builtins

import pytest

from specops.training.logging import RunLogger, read_log, truncate_log


def test_jsonl_records_and_truncation(tmp_path):
    log = RunLogger(tmp_path, total_steps=10, progress=False, tensorboard=False)
    for step in range(1, 6):
        log.log(step, train_loss=1.0 / step, lr=0.1)
    log.log(5, val_rel_l2=float("nan"))
    log.close()
    records = read_log(tmp_path)
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5, 5]
    assert records[2]["train_loss"] == pytest.approx(1 / 3) and records[-1]["val_rel_l2"] == "nan"
    truncate_log(tmp_path, 3)
    assert [r["step"] for r in read_log(tmp_path)] == [1, 2, 3]
    silent = RunLogger(tmp_path / "other", enabled=False)  # ranks other than 0 write nothing
    silent.log(1, train_loss=1.0)
    silent.close()
    assert not (tmp_path / "other").exists()


def test_tensorboard_required_but_missing_names_the_extra(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.startswith("torch.utils.tensorboard"):
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    with pytest.raises(ImportError, match=r"pip install 'specops\[log\]'"):
        RunLogger(tmp_path, tensorboard=True, progress=False)
    RunLogger(tmp_path, tensorboard=None, progress=False).close()  # optional: silently off
