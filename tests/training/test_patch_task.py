"""Patch-level training: the per-patch loss against the whole-field loss of the stitched model, and
(sample, patch) items split across two processes."""

from __future__ import annotations

import os

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn
from torch.utils.data import DataLoader

from specops import FNO, LpLoss, MultigridPatching
from specops.data.patches import PatchItems
from specops.models.normalization import FieldNormalization
from specops.training import Trainer
from specops.training.distributed import DistributedContext, init_distributed, shutdown
from specops.training.patch_task import PatchInput, PatchTask
from specops.training.tasks import AutoregressiveTask, OperatorTask, PushforwardTask
from specops.training.validation import encoded_batch
from tests.helpers import assert_close, free_port, set_rank_env
from tests.training.conftest import PairDataset, Standardize, heat, smooth_fields


def patched(in_channels: int = 1, out_channels: int = 1, levels: int = 1) -> MultigridPatching:
    torch.manual_seed(0)
    inner = FNO((4, 4), in_channels=in_channels * (levels + 1), out_channels=out_channels, hidden_channels=6)
    return MultigridPatching(inner.double(), patches=[2, 2], levels=levels, padding=0.125)


def heat_pairs(n: int = 3) -> PairDataset:
    x = smooth_fields(n, (16, 16), seed=0).double()
    return PairDataset(x, heat(x))


def all_items(data, n_patches: int, normalization: FieldNormalization):
    """Every (sample, patch) item of ``data`` in one encoded batch."""
    items = PatchItems(data, n_patches)
    batch = next(iter(DataLoader(items, batch_size=len(items))))
    return encoded_batch(batch, normalization, torch.device("cpu"))


def test_mean_patch_mse_and_its_gradient_equal_the_whole_field_ones():
    """MSE is a mean over points and the patches have equal cores, so the mean over all items of the patch
    MSE is the whole-field MSE of the stitched model, and so are their gradients."""
    model, data = patched(), heat_pairs()
    norm = FieldNormalization(Standardize(0.3, 2.0), Standardize(-0.1, 0.5))
    x, y, _ = all_items(data, 4, norm)
    assert isinstance(x, PatchInput) and x.positions.tolist() == [0, 1, 2, 3] * 3
    patch_loss = PatchTask(OperatorTask(), model.patches).loss(model, x, y, nn.MSELoss(), norm.feedback)
    whole_x, whole_y = norm.encode_input(data.x), norm.encode_target(data.y)
    whole_loss = OperatorTask().loss(model, whole_x, whole_y, nn.MSELoss(), norm.feedback)
    assert_close(patch_loss, whole_loss, rtol=1e-12, what="loss")
    params = list(model.parameters())
    for a, b in zip(torch.autograd.grad(patch_loss, params), torch.autograd.grad(whole_loss, params)):
        assert_close(a, b, rtol=1e-9, atol=1e-13, what="gradient")


def test_patch_relative_l2_is_per_patch_and_recombines_into_the_whole_field_error():
    """Relative L2 is not additive: the patch loss is the mean of ||e_ij|| / ||y_ij|| (computed here by
    hand from blocks of the stitched output), and the whole field's is sqrt(sum_j ||e_ij||^2 / sum_j
    ||y_ij||^2)."""
    model, data = patched(), heat_pairs()
    x, y, _ = all_items(data, 4, FieldNormalization())
    got = PatchTask(OperatorTask(), model.patches).loss(model, x, y, LpLoss(), None)
    with torch.no_grad():
        stitched = model(data.x)
    blocks = [(slice(0, 8), slice(0, 8)), (slice(0, 8), slice(8, 16))]
    blocks += [(slice(8, 16), slice(0, 8)), (slice(8, 16), slice(8, 16))]
    err = torch.tensor(
        [[(stitched[i, 0][b] - data.y[i, 0][b]).square().sum() for b in blocks] for i in range(3)]
    )
    ref = torch.tensor([[data.y[i, 0][b].square().sum() for b in blocks] for i in range(3)])
    assert_close(got, (err / ref).sqrt().mean(), rtol=1e-12, what="mean patch relative L2")
    whole = LpLoss()(stitched, data.y)
    assert_close(whole, (err.sum(1) / ref.sum(1)).sqrt().mean(), rtol=1e-12, what="whole-field relative L2")


def test_autoregressive_windows_train_on_patches_of_every_predicted_state():
    torch.manual_seed(5)
    frames = smooth_fields(6, (16, 16), seed=1).double().reshape(2, 3, 1, 16, 16)
    data = PairDataset(frames[:, :2], frames[:, 2:])  # 2 states in, 1 out
    model = patched(in_channels=2)
    x, y, _ = all_items(data, 4, FieldNormalization())
    patch_loss = PatchTask(AutoregressiveTask(), model.patches).loss(model, x, y, nn.MSELoss(), None)
    whole_loss = AutoregressiveTask().loss(model, data.x, data.y, nn.MSELoss(), None)
    assert_close(patch_loss, whole_loss, rtol=1e-12, what="autoregressive loss")


def test_validation_stitches_whole_fields_and_bad_uses_are_refused():
    model, data = patched(), heat_pairs()
    task = PatchTask(OperatorTask(), model.patches)
    assert torch.equal(task.predict(model, data.x, data.y, None), model(data.x))
    with pytest.raises(ValueError, match=r"needs batches of \(sample, patch\) items.*PatchItems"):
        task.loss(model, data.x, data.y, LpLoss(), None)
    with pytest.raises(ValueError, match=r"supports train.mode=operator and train.mode=autoregressive"):
        PatchTask(PushforwardTask(2), [2, 2])


class Recording(PatchTask):
    """A PatchTask that records the (sample, patch) items of every training batch it sees."""

    def __init__(self, patches, first_values):
        super().__init__(OperatorTask(), patches)
        self.first_values, self.seen = first_values, []

    def loss(self, forward, x, y, loss_fn, feedback):
        samples = [int((self.first_values - v).abs().argmin()) for v in x.fields[:, 0, 0, 0]]
        self.seen += list(zip(samples, x.positions.tolist()))
        return super().loss(forward, x, y, loss_fn, feedback)


def _train_on_patches(ctx: DistributedContext, batch_size: int):
    data = heat_pairs(3)
    model = patched()
    task = Recording(model.patches, data.x[:, 0, 0, 0])
    trainer = Trainer(
        model,
        LpLoss(),
        torch.optim.Adam(model.parameters(), lr=1e-2),
        task=task,
        max_steps=2,
        batch_size=batch_size,
        progress=False,
        device="cpu",
        dist=ctx,
    )
    trainer.fit(PatchItems(data, model.n_patches))
    return {k: v.detach().clone() for k, v in model.state_dict().items()}, task.seen


def _worker(rank: int, world_size: int, port: int, out: str) -> None:
    set_rank_env(rank, world_size, port)
    torch.set_num_threads(1)
    ctx = init_distributed("gloo")
    try:
        torch.save(_train_on_patches(ctx, batch_size=3), f"{out}.{rank}")
    finally:
        shutdown(ctx)
    os._exit(0)  # as in test_distributed: skip interpreter finalization (gloo exit-time aborts)


def test_two_processes_see_disjoint_patches_covering_every_item_and_match_one_process(tmp_path):
    out = str(tmp_path / "result")
    for attempt in range(3):  # a free port can be taken before the store binds it
        try:
            mp.spawn(_worker, args=(2, free_port(), out), nprocs=2, join=True)
            break
        except mp.ProcessRaisedException as exc:
            if attempt == 2 or not any(
                w in str(exc).lower() for w in ("address", "connect", "socket", "store")
            ):
                raise
    single, seen_single = _train_on_patches(DistributedContext(), batch_size=6)
    every = {(i, j) for i in range(3) for j in range(4)}
    assert sorted(seen_single) == sorted(every)  # one epoch of 2 steps x 6 items: each item once
    (params0, seen0), (params1, seen1) = (torch.load(f"{out}.{r}", weights_only=True) for r in range(2))
    assert len(seen0) == len(seen1) == 6 and not set(seen0) & set(seen1)
    assert set(seen0) | set(seen1) == every
    assert any(len({j for i, j in seen if i == s}) < 4 for seen in (seen0, seen1) for s in range(3))
    for params in (params0, params1):  # gradients averaged over the processes' patches
        for key, value in single.items():
            assert_close(params[key], value, rtol=1e-9, atol=1e-11, what=key)
