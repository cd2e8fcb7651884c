"""`specops train` / `evaluate` keep the user's files safe and reproduce runs: seeded model construction,
refusal of non-empty run directories, validation before any write, clear resume errors, Ctrl-C, physical
units after loading."""

import os
import signal

import pytest
import torch

import specops
from specops.cli import main
from specops.data.generate import generate_dataset
from specops.training.trainer import Trainer
from tests.data.problems import HeatProblem


@pytest.fixture(scope="module")
def heat_file(tmp_path_factory):
    root = tmp_path_factory.mktemp("heat")
    return generate_dataset(HeatProblem(resolution=16), 24, root / "heat16.h5", progress=False)


def _train(data, out, *extra):
    args = ["train", "--data", str(data), "--out", str(out), "--no-eval", "--batch-size", "8"]
    args += ["--set", "train.progress=false", "--set", "model.args.hidden_channels=8", *extra]
    return main(args)


def _weights(run):
    return torch.load(run / "checkpoints" / "last.pt", weights_only=True)["state_dict"]


def _snapshot(folder):
    return {
        p.relative_to(folder): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    }


def test_same_command_twice_gives_bit_identical_weights(heat_file, tmp_path):
    for name in ("a", "b"):
        assert _train(heat_file, tmp_path / name, "--epochs", "2") == 0
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_non_empty_out_is_refused_and_left_untouched(heat_file, tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(heat_file, run, "--epochs", "1") == 0
    before = _snapshot(run)
    assert _train(heat_file, run, "--epochs", "1") == 2
    err = capsys.readouterr().err
    assert "--resume" in err and "--overwrite" in err and str(run) in err
    assert _snapshot(run) == before
    # a directory holding the user's own files
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    assert _train(heat_file, mine, "--epochs", "1") == 2
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_overwrite_replaces_the_run_but_keeps_other_files(heat_file, tmp_path):
    run = tmp_path / "run"
    assert _train(heat_file, run, "--epochs", "2") == 0
    (run / "notes.txt").write_text("mine")
    (run / "metrics.jsonl").write_text('{"step": 999, "train_loss": 1.0}\n')
    assert _train(heat_file, run, "--epochs", "1", "--overwrite") == 0
    assert (run / "notes.txt").read_text() == "mine"
    steps = [line for line in (run / "metrics.jsonl").read_text().splitlines() if '"step": 999' in line]
    assert not steps  # the old log is gone, not interleaved
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["extra"]["training"]["epoch"] == 1


def test_a_failing_command_writes_nothing(heat_file, tmp_path, capsys):
    fresh = tmp_path / "fresh"
    assert _train(heat_file, fresh, "--epochs", "-1") == 2
    assert "train.epochs" in capsys.readouterr().err
    assert not fresh.exists()
    assert _train(heat_file, fresh, "--device", "tpu") == 2
    assert "tpu" in capsys.readouterr().err and not fresh.exists()


def test_resume_with_another_model_names_the_difference(heat_file, tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(heat_file, run, "--epochs", "1") == 0
    before = _snapshot(run)
    code = _train(heat_file, run, "--epochs", "2", "--resume", "--set", "model.args.n_layers=2")
    err = capsys.readouterr().err
    assert code == 2
    assert "n_layers=4 in the checkpoint, 2 now" in err and "Traceback" not in err
    assert _snapshot(run) == before


def test_resume_removes_stale_temporary_files(heat_file, tmp_path):
    run = tmp_path / "run"
    assert _train(heat_file, run, "--epochs", "1") == 0
    stale = run / "checkpoints" / ".last.pt.abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    assert _train(heat_file, run, "--epochs", "2", "--resume") == 0
    assert not stale.exists()


def test_ctrl_c_finishes_the_step_saves_and_exits_130(heat_file, tmp_path, capsys, monkeypatch):
    step = Trainer.train_step
    calls = []

    def interrupted_step(self, batch):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C arrives in the middle of step 3
        return step(self, batch)

    monkeypatch.setattr(Trainer, "train_step", interrupted_step)
    run = tmp_path / "run"
    assert _train(heat_file, run, "--epochs", "3", "--lr", "1e-3") == 130
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "interrupted at step 3" in err and "--resume" in err
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["extra"]["training"]["step"] == 3
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    monkeypatch.setattr(Trainer, "train_step", step)
    assert _train(heat_file, run, "--epochs", "3", "--lr", "1e-3", "--resume") == 0
    assert _train(heat_file, tmp_path / "whole", "--epochs", "3", "--lr", "1e-3") == 0
    resumed, whole = _weights(run), _weights(tmp_path / "whole")
    for key in whole:
        assert torch.equal(resumed[key], whole[key]), key


def test_ctrl_c_during_the_learning_rate_test_writes_nothing(heat_file, tmp_path, capsys, monkeypatch):
    step = Trainer.train_step

    def interrupted_step(self, batch):
        os.kill(os.getpid(), signal.SIGINT)  # the range test runs before training, before any write
        return step(self, batch)

    monkeypatch.setattr(Trainer, "train_step", interrupted_step)
    run = tmp_path / "run"
    assert _train(heat_file, run, "--epochs", "3", "--lr", "auto") == 130
    err = capsys.readouterr().err.strip()
    assert err == "specops train: interrupted; nothing was written" and not run.exists()


def test_evaluate_refuses_another_runs_checkpoint(heat_file, tmp_path, capsys):
    for name in ("a", "b"):
        assert _train(heat_file, tmp_path / name, "--epochs", "1") == 0
    code = main(["evaluate", str(tmp_path / "a"), "--checkpoint", str(tmp_path / "b/checkpoints/last.pt")])
    err = capsys.readouterr().err
    assert code == 2 and "not a checkpoint of" in err and f"specops evaluate {tmp_path / 'b'}" in err
    assert not (tmp_path / "a" / "results.json").exists()


def test_load_predictor_maps_physical_inputs_to_physical_outputs(heat_file, tmp_path):
    from specops.data.datasets import OperatorDataset

    run = tmp_path / "run"
    assert _train(heat_file, run, "--epochs", "2") == 0
    predictor = specops.load_predictor(run)
    net = specops.load(run / "checkpoints" / "last.pt")
    ds = OperatorDataset(heat_file, indices=[0, 1])
    x = torch.stack([ds[i]["x"] for i in range(2)])
    payload = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    from specops.training.checkpoint import normalizers_from_checkpoint

    x_norm, y_norm = normalizers_from_checkpoint(payload)
    with torch.no_grad():
        expected = y_norm.decode(net(x_norm.encode(x)))
        assert torch.equal(predictor(x), expected)
        # the network alone works in normalized units: its raw output is on another scale
        assert not torch.allclose(net(x), expected, rtol=0.1)
        # any resolution: a finer grid
        fine = x.repeat_interleave(2, dim=-1).repeat_interleave(2, dim=-2)
        assert predictor(fine).shape == (2, 1, 32, 32)


def test_a_second_run_into_a_locked_directory_fails_at_once(heat_file, tmp_path, capsys):
    import subprocess
    import sys
    import textwrap

    run = tmp_path / "run"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from specops.training.rundir import run_lock
                with run_lock({str(run)!r}):
                    print("locked", flush=True)
                    time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert _train(heat_file, run, "--epochs", "1") == 2
        err = capsys.readouterr().err
        assert "being written by another process" in err and f"pid {holder.pid}" in err
        assert not (run / "config.yaml").exists()
    finally:
        holder.kill()
        holder.wait()
    assert _train(heat_file, run, "--epochs", "1") == 0  # a killed holder blocks nobody
