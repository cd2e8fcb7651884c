"""``specops train --online``: a run on a stream of solver samples, resumed, and its bad inputs."""

from __future__ import annotations

import json
import sys

import pytest
import torch

from specops import pipeline
from specops.cli import main
from specops.config import ConfigError, load_config
from specops.training.logging import read_log

PROBLEM = ["--resolution", "16", "--problem-set", "upsample=1", "--problem-set", "t_final=0.05"]
PROBLEM += ["--problem-set", "save_interval=null"]
SMALL = ["--set", "model.args.hidden_channels=4", "--set", "model.args.n_modes=[4]", "--lr", "1e-3"]
SMALL += ["--set", "online.steps_per_epoch=5", "--set", "online.n_val=4", "--set", "online.buffer_size=16"]
SMALL += ["--set", "online.chunk=4", "--batch-size", "4", "--set", "train.progress=false", "--no-eval"]
SMALL += ["--set", "train.log_every=5"]


def _train(out, *extra):
    args = ["train", "--online", "burgers", *PROBLEM, *SMALL, "--out", str(out), "--workers", "2", *extra]
    assert main(args) == 0


def _stream_state(path):
    return torch.load(path, weights_only=True)["extra"]["training"]["stream"]


def test_online_run_streams_logs_and_resumes_the_same_stream(tmp_path):
    out = tmp_path / "run"
    _train(out, "--epochs", "2", "--set", "train.max_steps=7", "--max-samples", "48")  # stops mid-epoch
    stats = json.loads((out / "stream.json").read_text())
    first = _stream_state(out / "checkpoints" / "last.pt")
    # stream.json is written after the last checkpoint, and the solver workers keep delivering until the
    # stream closes: it may count a few samples more than the checkpoint (seen: 42 against 40)
    assert first["buffer"]["received"] <= stats["samples_received"] <= 48
    hist = {int(k): v for k, v in stats["times_seen_histogram"].items()}
    assert sum(k * v for k, v in hist.items()) == 7 * 4  # 7 steps of 4 samples drawn
    records = read_log(out)
    assert any("stream/buffer_occupancy" in r for r in records) and any("val_rel_l2" in r for r in records)
    # the stream continues where the checkpoint left it: the buffer is rebuilt, not counted again
    _train(out, "--epochs", "3", "--max-samples", "48", "--resume")
    second = _stream_state(out / "checkpoints" / "last.pt")
    state = torch.load(out / "checkpoints" / "last.pt", weights_only=True)["extra"]["training"]
    assert (state["step"], state["epoch"]) == (15, 3)  # the interrupted epoch was finished, not restarted
    assert second["ledger"]["frontier"] >= first["ledger"]["frontier"]
    assert second["buffer"]["received"] <= 48  # no index delivered twice over both runs
    assert sum(k * v for k, v in second["buffer"]["departed"].items()) + sum(second["buffer"]["seen"]) == 60


def _cfg(tmp_path, **online):
    sets = [f"online.{k}={v}" for k, v in online.items()]
    return load_config(None, [f"run_dir={tmp_path / 'run'}", "optim.lr=1e-3", *sets])


def test_unknown_problem_and_trajectories_are_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ConfigError, match=r"online\.problem='nosuch'"):
        pipeline.train(_cfg(tmp_path, problem="nosuch"))
    with pytest.raises(ConfigError, match="save_interval=null"):
        pipeline.train(_cfg(tmp_path, problem="burgers", **{"problem_args.resolution": 16}))
    assert not (tmp_path / "run").exists()


def test_cluster_without_ray_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    args = {"problem": "burgers", "cluster": "auto", "n_val": 2, "problem_args.resolution": 16}
    args |= {"problem_args.save_interval": "null", "problem_args.upsample": 1, "problem_args.t_final": 0.01}
    with pytest.raises(ImportError, match=r"pip install 'specops\[cluster\]'"):
        pipeline.train(_cfg(tmp_path, **args))


def test_online_config_is_checked():
    with pytest.raises(ConfigError, match=r"online\.watermark"):
        load_config(None, ["online.buffer_size=8", "online.watermark=9"])
    with pytest.raises(ConfigError, match=r"online\.policy"):
        load_config(None, ["online.policy=lifo"])


def test_cli_reports_missing_ray_as_an_error_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)
    args = [
        "train",
        "--online",
        "burgers",
        *PROBLEM,
        *SMALL,
        "--out",
        str(tmp_path / "run"),
        "--cluster",
        "auto",
    ]
    assert main(args) == 2
    assert "pip install 'specops[cluster]'" in capsys.readouterr().err
