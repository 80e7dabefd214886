"""Batch-statistic activity penalties under DDP: two gloo processes equal one process on the global batch.

Each rank holds half of a batch. VNE, coding rate, FLOPS, isotropy and least volume gather the activations of both ranks
with an all-gather that keeps gradients, so after DDP averages the gradients they must equal the
gradients of a single process that sees the whole batch. Without the gather (``gather=False``)
they do not, which the second case checks.
"""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn

import reglab as rl

N = 12


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(5)
    return torch.randn(N, 4, generator=g, dtype=torch.float64), torch.randint(0, 3, (N,), generator=g)


def penalties(model: nn.Module, gather: bool) -> list[nn.Module]:
    return [rl.VNE(model, modules="1", strength=0.7, gather=gather),
            rl.CodingRate(model, modules="2", strength=0.3, gather=gather),
            rl.FLOPS(model, modules="1", strength=0.5, gather=gather),
            rl.Isotropy(model, modules="1", strength=0.4, gather=gather),
            rl.LeastVolume(model, modules="2", strength=0.6, gather=gather)]


def grads(model: nn.Module, pens: list[nn.Module], x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    loss = F.cross_entropy(model(x), y) + sum(p() for p in pens)
    loss.backward()
    return [p.grad.detach().clone() for p in model.parameters()]


def worker(rank: int, world: int, port: int, out: str, gather: bool) -> None:
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        inner = make_model()
        model = nn.parallel.DistributedDataParallel(inner)
        x, y = batch()
        part = slice(rank * N // world, (rank + 1) * N // world)
        torch.save(grads(model, penalties(inner, gather), x[part], y[part]), f"{out}/rank{rank}.pt")
        dist.barrier()
    finally:
        dist.destroy_process_group()
    # Leave without the interpreter's teardown: gloo's threads can still be joinable when their
    # C++ destructors run at exit, which aborts the process (SIGABRT) now and then.
    os._exit(0)


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
@pytest.mark.parametrize("gather", [True, False], ids=["gather", "local"])
def test_two_gloo_ranks_match_one_process_on_the_global_batch(tmp_path, gather):
    mp.spawn(worker, args=(2, free_port(), str(tmp_path), gather), nprocs=2, join=True)
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    model = make_model()
    x, y = batch()
    single = grads(model, penalties(model, True), x, y)
    for a, b in zip(rank0, rank1):
        torch.testing.assert_close(a, b, rtol=0, atol=0)  # DDP keeps the ranks in sync
    same = all(torch.allclose(a, s, rtol=1e-9, atol=1e-12) for a, s in zip(rank0, single))
    assert same is gather  # the global-batch gradient, only with the gather
