"""The training loop: it learns, resumes exactly, stops early, and refuses bad input with a clear message."""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.data import Dataset

from specops import FNO, LpLoss
from specops.config import OptimConfig
from specops.models import Predictor
from specops.training import Trainer, scheduler_factory
from specops.training.logging import read_log
from specops.training.tasks import NoisyInputs, PushforwardTask
from tests.helpers import assert_close
from tests.training.conftest import PairDataset, Standardize, heat, smooth_fields


def _model(seed: int = 0, **kwargs) -> FNO:
    torch.manual_seed(seed)
    return FNO(kwargs.pop("n_modes", (6, 6)), hidden_channels=12, n_layers=2, **kwargs)


def _opts(**kwargs) -> dict:
    return {"progress": False, **kwargs}


def test_overfits_one_batch_to_near_zero_loss():
    x = smooth_fields(4, (16, 16), seed=1)
    data = PairDataset(x, heat(x))
    model = _model(n_modes=(16, 16))  # all modes: the heat operator is exactly representable
    trainer = Trainer(
        model,
        LpLoss(),
        torch.optim.Adam(model.parameters(), lr=1e-2),
        scheduler_factory(OptimConfig(schedule="cosine")),
        **_opts(max_steps=300, batch_size=4),
        x_normalizer=Standardize(0.0, 3.0),
        y_normalizer=Standardize(0.0, 3.0),
    )
    trainer.fit(data)
    assert trainer.history[0] > 0.5
    assert trainer.history[-1] < 5e-3, trainer.history[-5:]
    # the validation path decodes predictions: the same number in physical units
    assert trainer.validate(data)["val_rel_l2"] < 5e-3
    norm = trainer.normalization
    with torch.no_grad():
        pred = Predictor(model, norm.x_normalizer, norm.y_normalizer).eval()(x)
    assert_close((pred - data.y).norm() / data.y.norm(), torch.tensor(0.0), atol=5e-3)


def _run(tmp_path, name, task, data, val, *, interrupt_at=None, resume=None, seed=0, error=None):
    model = _model(seed, in_channels=task[1], out_channels=task[2])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    sched = scheduler_factory(OptimConfig(schedule="cosine", warmup_steps=3))
    trainer = Trainer(
        model,
        LpLoss(),
        opt,
        sched,
        task=task[0],
        x_normalizer=Standardize(0.1, 2.0),
        y_normalizer=Standardize(0.1, 2.0),
        **_opts(epochs=3, batch_size=8, ema_decay=0.9, checkpoint_every=5),
        run_dir=tmp_path / name,
        grad_clip=0.5,
        config={"note": "resume test"},
    )

    def stop(tr, loss):
        if tr.step == interrupt_at:
            raise error or KeyboardInterrupt

    if interrupt_at is not None:
        with pytest.raises(type(error) if error else KeyboardInterrupt):
            trainer.fit(data, val, callback=stop)
    else:
        trainer.fit(data, val, resume=resume)
    return trainer


class Windows(Dataset):
    """Heat-flow trajectories cut into windows: 2 past states in, 3 future states out."""

    def __init__(self, n: int, seed: int) -> None:
        states = [smooth_fields(n, (16, 16), seed=seed)]
        for _ in range(4):
            states.append(heat(states[-1], t=0.002))
        self.traj = torch.stack(states, dim=1)  # (n, 5, 1, 16, 16)

    def __len__(self) -> int:
        return self.traj.shape[0]

    def __getitem__(self, i):
        return {"x": self.traj[i, :2], "y": self.traj[i, 2:]}


@pytest.mark.parametrize("mode", ["operator", "pushforward", "noisy-pushforward"])
def test_interrupted_run_resumes_bit_identically(tmp_path, heat_data, mode):
    if mode == "operator":
        task, (train, val) = (None, 1, 1), heat_data
    else:  # draws a random unroll depth (and input noise) every step: exercises the restored RNG
        inner = PushforwardTask(3)
        inner = NoisyInputs(inner, 0.1, lead_dims=3) if mode == "noisy-pushforward" else inner
        task, train, val = (inner, 2, 1), Windows(40, seed=3), Windows(8, seed=4)
    full = _run(tmp_path, "full", task, train, val)
    steps = full.step
    assert steps == 3 * math.ceil(len(train) / 8)
    _run(tmp_path, "cut", task, train, val, interrupt_at=8)  # mid-epoch: 8 = 5 + 3
    resumed = _run(tmp_path, "cut", task, train, val, resume=tmp_path / "cut/checkpoints/last.pt", seed=99)
    assert resumed.step == steps
    # bit-identical on CPU: the same losses, validation numbers and weights
    assert torch.equal(torch.tensor(resumed.history), torch.tensor(full.history))
    assert resumed.val_history == full.val_history
    for (name, a), b in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    for key in full.ema.shadow:
        assert torch.equal(full.ema.shadow[key], resumed.ema.shadow[key]), key
    # the resumed run's log continues the interrupted one without duplicated steps
    steps_logged = [r["step"] for r in read_log(tmp_path / "cut") if "train_loss" in r]
    assert steps_logged == sorted(set(steps_logged)) and steps_logged[-1] == steps
    # the mean loss of the epoch cut in the middle covers its steps before the interruption too
    epoch_means = [
        [(r["epoch"], r["epoch_train_loss"]) for r in read_log(tmp_path / run) if "epoch_train_loss" in r]
        for run in ("full", "cut")
    ]
    assert epoch_means[0] == epoch_means[1] and len(epoch_means[0]) == 3


def test_crashed_run_resumes_from_periodic_checkpoint(tmp_path, heat_data):
    train, val = heat_data
    full = _run(tmp_path, "full", (None, 1, 1), train, val)
    # a crash (not an interrupt) at step 11 leaves the checkpoint written at step 10 (mid-epoch)
    _run(tmp_path, "cut", (None, 1, 1), train, val, interrupt_at=11, error=RuntimeError("crash"))
    ckpt = tmp_path / "cut/checkpoints/last.pt"
    assert torch.load(ckpt, weights_only=True)["extra"]["training"]["step"] == 10
    resumed = _run(tmp_path, "cut", (None, 1, 1), train, val, resume=ckpt, seed=7)
    assert torch.equal(torch.tensor(resumed.history), torch.tensor(full.history))


def test_early_stopping_and_best_checkpoint(tmp_path, heat_data):
    train, val = heat_data
    model = _model()
    trainer = Trainer(
        model,
        LpLoss(),
        torch.optim.SGD(model.parameters(), lr=0.0),  # nothing improves after the first evaluation
        **_opts(epochs=50, batch_size=16, early_stopping=3),
        run_dir=tmp_path / "run",
    )
    result = trainer.fit(train, val)
    assert result["stopped_early"] and trainer.epoch == 4  # first evaluation sets best, 3 more do not improve
    assert result["best"] is not None and len(trainer.val_history) == 4
    from specops import load

    best = load(result["best"])
    for a, b in zip(best.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)


def test_streaming_iterable_needs_max_steps_and_trains(heat_data):
    train, _ = heat_data
    batches = [{"x": train.x[i : i + 8], "y": train.y[i : i + 8]} for i in range(0, 48, 8)]

    def stream():
        while True:
            yield from batches

    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    with pytest.raises(ValueError, match=r"needs max_steps \(train\.max_steps\)"):
        Trainer(model, LpLoss(), opt, **_opts()).fit(stream())
    trainer = Trainer(model, LpLoss(), opt, **_opts(max_steps=10))
    result = trainer.fit(stream())
    assert result["step"] == 10 and len(trainer.history) == 10


def test_bad_batches_and_runaway_losses_are_explained(heat_data, tmp_path):
    train, _ = heat_data
    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    class NoTarget(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return {"x": train.x[i]}

    with pytest.raises(ValueError, match=r"keys 'x' and 'y', got keys \['x'\]"):
        Trainer(model, LpLoss(), opt, **_opts(max_steps=1, batch_size=4)).fit(NoTarget())
    wrong = PairDataset(train.x.repeat(1, 2, 1, 1), train.y)
    with pytest.raises(ValueError, match="2 channels"):
        Trainer(model, LpLoss(), opt, **_opts(max_steps=1, batch_size=4)).fit(wrong)
    bad = _model()
    huge = Trainer(bad, LpLoss(), torch.optim.SGD(bad.parameters(), lr=1e30), **_opts(epochs=2))
    with pytest.raises(FloatingPointError, match=r"lower optim\.lr"):
        huge.fit(train)
    trainer = Trainer(model, LpLoss(), opt, **_opts(max_steps=2, batch_size=8), run_dir=tmp_path)
    trainer.fit(train)
    other = Trainer(_model(), LpLoss(), opt, **_opts(max_steps=4, batch_size=4), run_dir=tmp_path)
    with pytest.raises(ValueError, match="batch_size=8 on 1 process"):
        other.fit(train, resume=tmp_path / "checkpoints/last.pt")


class _DtypeRecorder(torch.overrides.TorchFunctionMode):
    """Record the dtype of every tensor a torch function returns, and whether a SpectralConv was running."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = 0
        self.records: list[tuple[str, bool, torch.dtype]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        outs = out if isinstance(out, (tuple, list)) else (out,)
        for t in outs:
            if isinstance(t, torch.Tensor) and (t.is_floating_point() or t.is_complex()):
                self.records.append((getattr(func, "__name__", str(func)), self.inside > 0, t.dtype))
        return out


@pytest.mark.parametrize("fft_method", ["fft", "dft"])
def test_autocast_keeps_spectral_layers_in_float32(heat_data, fft_method):
    from specops.layers import SpectralConv

    train, _ = heat_data
    model = _model(spectral={"fft_method": fft_method})
    trainer = Trainer(
        model,
        LpLoss(),
        torch.optim.Adam(model.parameters(), lr=1e-3),
        **_opts(max_steps=1, batch_size=8, precision="bf16"),
    )
    recorder = _DtypeRecorder()
    seen = []

    def enter(module, args):
        recorder.inside += 1
        seen.append(("in", args[0].dtype))
        for p in module.parameters():
            seen.append(("weight", p.dtype))

    def leave(module, args, out):
        recorder.inside -= 1
        seen.append(("out", out.dtype))

    convs = [m for m in model.modules() if isinstance(m, SpectralConv)]
    for conv in convs:
        conv.register_forward_pre_hook(enter)
        conv.register_forward_hook(leave)
    with recorder:
        loss = trainer.train_step({"x": train.x[:8], "y": train.y[:8]})
    assert torch.isfinite(loss)
    inside = [(name, dt) for name, flag, dt in recorder.records if flag]
    outside = {dt for name, flag, dt in recorder.records if not flag}
    assert torch.bfloat16 in outside, "autocast was not active around the pointwise layers"
    assert inside, "no operation was recorded inside the spectral layers"
    # float64 appears where the DFT matrices are built (then rounded once); nothing may be below float32
    low = (torch.bfloat16, torch.float16, torch.complex32)
    bad = [(name, dt) for name, dt in inside if dt in low]
    assert not bad, f"spectral layers computed in lower precision: {bad[:5]}"
    assert any("fft" in name or "matmul" in name or "einsum" in name for name, _ in inside)
    assert {dt for kind, dt in seen if kind == "weight"} == {torch.float32}
    assert {dt for kind, dt in seen if kind == "out"} == {torch.float32}
    assert len([k for k, _ in seen if k == "out"]) == len(convs)
    for p in model.parameters():  # gradients and master weights stay float32
        assert p.dtype == torch.float32 and (p.grad is None or p.grad.dtype == torch.float32)


def test_fp16_uses_a_grad_scaler_and_trains(heat_data):
    train, _ = heat_data
    model = _model()
    trainer = Trainer(
        model,
        LpLoss(),
        torch.optim.Adam(model.parameters(), lr=3e-3),
        **_opts(max_steps=6, batch_size=8, precision="fp16"),
    )
    trainer.fit(train)
    assert trainer.scaler is not None and trainer.scaler.get_scale() > 0
    assert all(math.isfinite(v) for v in trainer.history)
    from specops.training.checkpoint import loop_state

    assert loop_state(trainer)["scaler"]["scale"] > 0


def test_build_trainer_builds_everything_and_stores_the_configuration(tmp_path, heat_data):
    from specops import create_model
    from specops.config import apply_overrides, load_config
    from specops.pipeline import adapt_to_data, build_trainer
    from specops.training.checkpoint import config_from_checkpoint

    train, val = heat_data
    cfg = apply_overrides(
        load_config(None),
        [
            f"run_dir={tmp_path / 'run'}",
            "model.args={n_modes: [32, 32], hidden_channels: 8, n_layers: 1}",
            "optim.schedule=one-cycle",
            "optim.lr=1e-2",
            "optim.grad_clip=1.0",
            "train.loss=h1",
            "train.epochs=2",
            "train.batch_size=16",
            "train.progress=false",
        ],
    )
    cfg, notes = adapt_to_data(cfg, in_channels=1, out_channels=1, shape=(16, 16))
    assert notes and cfg.model.args["n_modes"] == [16, 16]
    model = create_model(cfg.model.name, **cfg.model.args)
    trainer = build_trainer(model, cfg)
    assert isinstance(trainer.optimizer, torch.optim.AdamW) and trainer.grad_clip == 1.0
    result = trainer.fit(train, val)
    assert result["step"] == 6 and trainer.history[-1] < trainer.history[0]
    assert not (tmp_path / "run" / "config.yaml").exists()  # the pipeline writes it, once validated
    from specops.config import config_from_dict

    assert config_from_dict(config_from_checkpoint(result["last"])) == cfg


@pytest.mark.slow
def test_compiled_model_trains_like_the_eager_one(heat_data):
    train, _ = heat_data
    histories = []
    for compiled in (False, True):
        model = _model()
        trainer = Trainer(
            model,
            LpLoss(),
            torch.optim.Adam(model.parameters(), lr=1e-3),
            **_opts(max_steps=3, batch_size=8, compile=compiled),
        )
        trainer.fit(train)
        histories.append(torch.tensor(trainer.history))
    assert_close(histories[1], histories[0], rtol=1e-4, atol=1e-6)


def test_autoregressive_training_then_rollout_tracks_the_truth():
    from specops.evaluation import evaluate_rollout
    from specops.training.tasks import AutoregressiveTask

    # one heat step as the map to learn; trajectories of 6 states for the rollout test
    def trajectories(n, seed, steps):
        states = [smooth_fields(n, (16, 16), seed=seed)]
        for _ in range(steps - 1):
            states.append(heat(states[-1], t=0.002))
        return torch.stack(states, dim=1)

    train = trajectories(32, 5, 2)
    data = PairDataset(train[:, :1], train[:, 1:])  # x (1, C, *space), y (1, C, *space)
    model = _model(n_modes=(16, 16))
    trainer = Trainer(
        model,
        LpLoss(),
        torch.optim.Adam(model.parameters(), lr=1e-2),
        scheduler_factory(OptimConfig(schedule="cosine")),
        task=AutoregressiveTask(),
        x_normalizer=Standardize(0.0, 3.0),
        y_normalizer=Standardize(0.0, 3.0),
        **_opts(max_steps=150, batch_size=8),
    )
    trainer.fit(data)
    test = trajectories(4, 6, 6)
    norm = trainer.normalization
    predictor = Predictor(model, norm.x_normalizer, norm.y_normalizer, task="autoregressive")
    result = evaluate_rollout(predictor, test, history=1)
    errors = result["rel_l2_vs_time"]["u"]
    # the baseline that keeps the last state: a model that learned nothing does no better
    persistence = evaluate_rollout(torch.nn.Identity(), test, history=1)["rel_l2_vs_time"]["u"]
    assert errors[0] < 0.02 and errors[-1] < 0.1, errors
    assert all(e < 0.5 * p for e, p in zip(errors, persistence)), (errors, persistence)
    assert result["correlation_time"]["fraction_above_at_horizon"] == 1.0


def test_datasets_return_raw_fields_and_the_trainer_encodes_them_once(tmp_path):
    import h5py

    from specops.data.datasets import load_splits
    from specops.data.generate import generate_dataset
    from tests.data.problems import HeatProblem

    path = generate_dataset(HeatProblem(resolution=16), 20, tmp_path / "heat.h5", progress=False)
    splits = load_splits(path)
    with h5py.File(path) as h5:  # items are the stored fields, untouched
        first = int(splits.train.indices[0])
        assert torch.equal(splits.train[0]["x"], torch.from_numpy(h5["fields/a"][first]))
    seen = []
    encode = splits.x_normalizer.encode
    splits.x_normalizer.encode = lambda x: seen.append(x) or encode(x)
    model = _model()
    trainer = Trainer(
        model,
        LpLoss(),
        torch.optim.AdamW(model.parameters()),
        x_normalizer=splits.x_normalizer,
        y_normalizer=splits.y_normalizer,
        **_opts(max_steps=1, batch_size=4),
    )
    batch = next(iter(torch.utils.data.DataLoader(splits.train, batch_size=4)))
    trainer.train_step(batch)
    assert len(seen) == 1 and torch.equal(seen[0], batch["x"])  # encoded once, from the raw values
