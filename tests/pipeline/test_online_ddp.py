"""Online training on two DDP ranks (gloo, CPU): disjoint shares of one stream, every rank's state in the
checkpoint, a resume that continues each share, and a resume on another number of ranks refused."""

from __future__ import annotations

import contextlib
import os

import pytest
import torch
import torch.multiprocessing as mp

from specops import pipeline
from specops.config import load_config
from specops.data.buffer import SampleBuffer, StreamError
from specops.data.ledger import SeedLedger
from specops.data.streaming import OnlineBatches, SampleStream
from specops.pipeline import online
from specops.training.distributed import DistributedContext, init_distributed, shutdown
from tests.data.stream_problems import CountingSpec
from tests.helpers import free_port, set_rank_env

N, CHUNK, SEED = 32, 4, 100  # 8 chunks: rank 0 owns chunks 0, 2, 4, 6 and rank 1 chunks 1, 3, 5, 7


def _cfg(run_dir, *extra):
    sets = [
        "online.problem=burgers",
        f"online.seed={SEED}",
        f"online.max_samples={N}",
        f"online.chunk={CHUNK}",
    ]
    sets += ["online.workers=1", "online.threads=1", "online.policy=fifo", "online.buffer_size=4"]
    sets += ["online.watermark=4", "online.steps_per_epoch=2", "online.n_val=2", "online.val_seed=10000"]
    sets += [
        "model.args.hidden_channels=4",
        "model.args.n_modes=[2]",
        "optim.lr=1e-3",
        "data.normalize=false",
    ]
    sets += ["train.batch_size=4", "train.epochs=10", "train.progress=false", f"run_dir={run_dir}"]
    return load_config(None, [*sets, *extra])


def _record_puts() -> list[int]:
    """Every stream index this process's buffers accept (the samples delivered to this rank)."""
    got: list[int] = []
    put = SampleBuffer.put

    def recording(self, index, sample, **kwargs):
        accepted = put(self, index, sample, **kwargs)
        if accepted:
            got.append(int(index))
        return accepted

    SampleBuffer.put = recording  # this spawned process only
    return got


def _rank(rank: int, world_size: int, port: int, run_dir: str) -> None:
    set_rank_env(rank, world_size, port, local_rank=0)
    torch.set_num_threads(1)
    online.problem_spec = lambda cfg: CountingSpec()  # x = seed: a cheap problem
    ctx = init_distributed("gloo")
    try:
        got = _record_puts()
        first = pipeline.train(_cfg(run_dir, "train.max_steps=2"), dist=ctx, evaluate_after=False, log=str)
        ckpt = torch.load(f"{run_dir}/checkpoints/last.pt", weights_only=True)["extra"]["training"]
        run1 = list(got)
        got.clear()
        second = pipeline.train(_cfg(run_dir), resume=True, dist=ctx, evaluate_after=False, log=str)
        result = {
            "run1": run1,
            "run2": list(got),
            "ckpt1": ckpt["stream"],
            "fits": (first["fit"], second["fit"]),
        }
        torch.save(result, f"{run_dir}/rank{rank}.pt")
    finally:
        shutdown(ctx)
    os._exit(0)  # past gloo's exit-time teardown (tests/training/test_distributed.py)


def _delivered(state, rank):
    ledger = SeedLedger(SEED, CHUNK, N, rank=rank, world_size=2)
    ledger.load_state_dict(state)
    return ledger.delivered_indices()


def test_two_ranks_split_the_stream_checkpoint_both_shares_and_resume(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    for attempt in range(3):  # a free port may be taken before the store binds it
        try:
            mp.spawn(_rank, args=(2, free_port(), str(run_dir)), nprocs=2, join=True)
            break
        except mp.ProcessRaisedException as exc:
            if attempt == 2 or not any(
                w in str(exc).lower() for w in ("address", "connect", "socket", "store")
            ):
                raise
    one = SeedLedger(SEED, CHUNK, N)  # the one-process stream of N samples
    single = [i for task in iter(lambda: one.next_task(0), None) for i in task[1]]
    assert single == list(range(N))
    results = [torch.load(run_dir / f"rank{r}.pt", weights_only=True) for r in range(2)]
    shares = []
    for rank, res in enumerate(results):
        # the first run's checkpoint (step 2) holds both ranks' states, each its own share's position
        state = res["ckpt1"]
        assert state["world_size"] == 2 and len(state["ranks"]) == 2
        assert [s["ledger"]["rank"] for s in state["ranks"]] == [0, 1]
        before = _delivered(state["ranks"][rank]["ledger"], rank)
        assert 8 <= len(before) < N // 2  # 8 samples trained, the buffer of 4 not yet refilled beyond
        assert set(before) <= set(res["run1"])
        # the resumed run delivers exactly the rest of this rank's share: nothing lost, nothing repeated
        assert not set(before) & set(res["run2"]) and len(res["run2"]) == len(set(res["run2"]))
        share = sorted(before + res["run2"])
        assert all((i // CHUNK) % 2 == rank for i in share)
        shares.append(share)
        assert (res["fits"][0]["step"], res["fits"][1]["step"]) == (2, 4)  # 16 samples a rank, batches of 4
    assert not set(shares[0]) & set(shares[1])
    assert sorted(shares[0] + shares[1]) == single
    final = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["extra"]["training"]["stream"]
    assert [_delivered(final["ranks"][r]["ledger"], r) for r in range(2)] == shares
    # another number of ranks cannot continue these shares
    monkeypatch.setattr(online, "problem_spec", lambda cfg: CountingSpec())
    with pytest.raises(ValueError, match=r"batch_size=4 on 2 process\(es\).*on 1"):
        pipeline.train(_cfg(run_dir), resume=True, evaluate_after=False, log=str)
    with pytest.raises(ValueError, match=r"shares of 2 trainer process\(es\), this run has 3"):
        online.RankStreams(None, DistributedContext(rank=0, world_size=3)).load_state_dict(final)


def test_ledger_shares_partition_the_stream_and_refuse_another_share():
    shares = []
    for rank in range(3):
        ledger = SeedLedger(0, 4, 30, rank=rank, world_size=3)
        issued = [i for task in iter(lambda: ledger.next_task(0), None) for i in task[1]]  # noqa: B023
        for i in issued:
            ledger.deliver(i)
        assert ledger.complete and ledger.delivered_indices() == issued
        assert all(ledger.to_global(ledger.to_local(i)) == i for i in issued)
        shares.append(issued)
    assert shares[2] == [8, 9, 10, 11, 20, 21, 22, 23] and shares[1][-2:] == [28, 29]  # short last chunk 7
    assert sorted(i for share in shares for i in share) == list(range(30))
    with pytest.raises(ValueError, match="not in the share of rank 1"):
        SeedLedger(0, 4, 30, rank=1, world_size=3).deliver(0)
    with pytest.raises(ValueError, match=r"rank 0 of 3 .* rank 0 of 2"):
        SeedLedger(0, 4, 30, rank=0, world_size=2).load_state_dict(
            SeedLedger(0, 4, 30, world_size=3).state_dict()
        )


class _InlinePool:
    """One "worker" that solves a task of the counting problem when polled (no process)."""

    n_workers = 1

    def __init__(self) -> None:
        self.tasks: list = []

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass

    def submit(self, wid, task) -> bool:
        self.tasks.append((wid, task))
        return True

    def poll(self, timeout):
        done, self.tasks = self.tasks, []
        out = []
        for wid, (task_id, indices, seeds) in done:
            data = CountingSpec()().generate(seeds)
            out.append((wid, (task_id, indices, data["a"], data["u"], [])))
        return out, []


def _batches(agree, ended):
    stream = SampleStream(_InlinePool(), SeedLedger(0, 2, 8), SampleBuffer(8, "fifo", watermark=2))
    return OnlineBatches(stream, 2, 3, timeout=10, agree=agree, on_end=lambda: ended.append(True))


def test_a_rank_takes_a_step_only_when_every_rank_has_a_batch():
    ended: list = []
    with contextlib.closing(_batches(int, ended)) as alone:  # one process: the status itself
        assert [b["x"][:, 0, 0].tolist() for b in alone] == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    assert not ended
    with contextlib.closing(_batches(lambda status: max(status, 1), ended)) as batches:  # another rank ended
        assert list(batches) == [] and ended == [True] and batches.over()
    with contextlib.closing(_batches(lambda status: 2, ended)) as batches:  # another rank's stream failed
        with pytest.raises(StreamError, match="another trainer process"):
            next(iter(batches))
