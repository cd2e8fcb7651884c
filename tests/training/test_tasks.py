"""Training tasks against hand-written reference computations."""

from __future__ import annotations

import pytest
import torch

from specops import FNO, LpLoss
from specops.training.tasks import AutoregressiveTask, OperatorTask, PushforwardTask
from tests.helpers import assert_close


def _model(k: int, m: int, c: int) -> FNO:
    torch.manual_seed(0)
    return FNO((4, 4), in_channels=k * c, out_channels=m * c, hidden_channels=8, n_layers=1).double()


def _identity(t):
    return t


def test_teacher_forcing_flattens_history_into_channels():
    k, m, c = 3, 2, 2
    model = _model(k, m, c)
    x = torch.randn(4, k, c, 8, 8, dtype=torch.float64)
    y = torch.randn(4, m, c, 8, 8, dtype=torch.float64)
    loss = AutoregressiveTask().loss(model, x, y, LpLoss(), _identity)
    # reference: channels ordered (step, channel), output reshaped the same way
    ref_in = torch.cat([x[:, i] for i in range(k)], dim=1)
    out = model(ref_in)
    ref_pred = torch.stack([out[:, j * c : (j + 1) * c] for j in range(m)], dim=1)
    assert_close(loss, LpLoss()(ref_pred.reshape(4, m * c, 8, 8), y.reshape(4, m * c, 8, 8)), rtol=1e-12)
    pred = AutoregressiveTask().predict(model, x, y, _identity)
    assert_close(pred, ref_pred, rtol=1e-12)


def test_pushforward_trains_on_its_own_rollout():
    k, m, c, n = 2, 1, 1, 3
    model = _model(k, m, c)
    x = torch.randn(2, k, c, 8, 8, dtype=torch.float64)
    y = torch.randn(2, n * m, c, 8, 8, dtype=torch.float64)

    def shift(t):  # a feedback that changes values, to check it is applied to every fed-back state
        return 2 * t + 1

    torch.manual_seed(5)
    loss = PushforwardTask(n).loss(model, x, y, LpLoss(), shift)
    torch.manual_seed(5)
    j = int(torch.randint(n, ()).item())
    window = x
    for _ in range(j):
        nxt = model(window.reshape(2, k * c, 8, 8)).reshape(2, m, c, 8, 8)
        window = torch.cat([window, shift(nxt)], dim=1)[:, -k:]
    pred = model(window.reshape(2, k * c, 8, 8))
    assert_close(loss, LpLoss()(pred, y[:, j].reshape(2, c, 8, 8)), rtol=1e-12)
    # one unroll step is teacher forcing
    torch.manual_seed(5)
    one = PushforwardTask(1).loss(model, x, y[:, :1], LpLoss(), shift)
    assert_close(one, AutoregressiveTask().loss(model, x, y[:, :1], LpLoss(), shift), rtol=1e-12)


def test_pushforward_gradient_flows_only_through_the_last_step():
    k, m, c = 1, 1, 1
    model = _model(k, m, c)
    x = torch.randn(2, k, c, 8, 8, dtype=torch.float64, requires_grad=True)
    y = torch.randn(2, 4, c, 8, 8, dtype=torch.float64)
    task = PushforwardTask(4)
    for seed in range(20):  # find a draw with j >= 1: the input then reaches the loss only without grad
        torch.manual_seed(seed)
        if int(torch.randint(4, ()).item()) >= 1:
            break
    torch.manual_seed(seed)
    task.loss(model, x, y, LpLoss(), _identity).backward()
    assert x.grad is None or torch.count_nonzero(x.grad) == 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_rollout_prediction_and_shape_errors():
    model = _model(2, 1, 1)
    x = torch.randn(2, 2, 1, 8, 8, dtype=torch.float64)
    y = torch.randn(2, 5, 1, 8, 8, dtype=torch.float64)
    pred = PushforwardTask(5).predict(model, x, y, _identity)
    window, ref = x, []
    for _ in range(5):
        nxt = model(window.reshape(2, 2, 8, 8)).reshape(2, 1, 1, 8, 8)
        ref.append(nxt)
        window = torch.cat([window, nxt], dim=1)[:, -2:]
    assert_close(pred, torch.cat(ref, dim=1), rtol=1e-12)
    with pytest.raises(ValueError, match="out_channels must be horizon"):
        AutoregressiveTask().loss(model, x, y[:, :2], LpLoss(), _identity)
    with pytest.raises(ValueError, match="multiple of 2 states"):
        PushforwardTask(2).loss(model, x, y, LpLoss(), _identity)
    with pytest.raises(ValueError, match="unroll_steps=0"):
        PushforwardTask(0)


def test_input_noise_perturbs_training_inputs_only_smoothly_and_within_the_level():
    from specops.config import Config, ConfigError, TrainConfig
    from specops.pipeline.build import task_for
    from specops.training.tasks import NoisyInputs

    seen = []

    def record(t):
        seen.append(t.clone())
        return t

    torch.manual_seed(0)
    x = torch.randn(2048, 1, 1, 32, dtype=torch.float64)  # autoregressive history (B, k, C, n)
    task = NoisyInputs(AutoregressiveTask(), 0.2, lead_dims=3)
    task.loss(record, x, x, torch.nn.MSELoss(), _identity)
    noise = seen[0][:, 0] - x[:, 0, 0]  # the step's input: history flattened to channels
    rms = noise.pow(2).mean(-1).sqrt()
    assert (
        float(rms.max()) <= 0.2 + 1e-12 and abs(float(rms.mean()) - 0.1) < 0.01
    )  # level uniform in [0, 0.2]
    spectrum = torch.fft.rfft(noise, dim=-1).abs()
    assert float(spectrum[:, 32 // 8 + 1 :].max()) < 1e-9  # smooth: only the lowest quarter of the modes
    # validation and prediction see the clean inputs
    seen.clear()
    task.predict(record, x, x, _identity)
    assert torch.equal(seen[0][:, 0], x[:, 0, 0])
    # configuration: off by default, wrapped when set, refused when negative
    assert isinstance(task_for(Config()), OperatorTask)
    cfg = Config(train=TrainConfig(mode="autoregressive", input_noise=0.1))
    wrapped = task_for(cfg)
    assert isinstance(wrapped, NoisyInputs) and isinstance(wrapped.task, AutoregressiveTask)
    assert wrapped.lead_dims == 3
    with pytest.raises(ConfigError, match="input_noise"):
        TrainConfig(input_noise=-0.1)
