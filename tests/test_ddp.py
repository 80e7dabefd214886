"""Methods survive DistributedDataParallel: a two-process gloo run on CPU.

Each rank trains the same DDP model on its own shard through a ``Recipe`` holding a penalty, a
batch transform and a closure-evaluating optimizer wrapper; gradients are all-reduced, so the
ranks must end with identical, finite parameters that differ from the start. The same with the
penalty attached to the optimizer (its gradient added in the step, after the all-reduce).
"""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

import reglab as rl


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train(rank: int, world: int, port: int, out: str, attach: bool) -> None:
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        torch.manual_seed(0)
        model = nn.parallel.DistributedDataParallel(nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3)))
        g = torch.Generator().manual_seed(100 + rank)
        x, y = torch.randn(8, 6, generator=g), torch.randint(0, 3, (8,), generator=g)
        penalty = rl.L2(model.module, strength=1e-3)
        optimizer = rl.SAM(torch.optim.SGD(model.parameters(), lr=0.1), rho=0.05)
        if attach:
            penalty.attach(optimizer)
        recipe = rl.Recipe([
            rl.Mixup(alpha=0.4, num_classes=3, generator=torch.Generator().manual_seed(rank)),
            *([] if attach else [penalty]),
            optimizer,
        ])
        for _ in range(3):
            recipe.step(model, x, y)
        torch.save([p.detach() for p in model.module.parameters()], f"{out}/rank{rank}.pt")
        dist.barrier()  # no rank tears gloo down while the other still talks to it
    finally:
        dist.destroy_process_group()
    # Leave without the interpreter's teardown: gloo's threads can still be joinable when their
    # C++ destructors run at exit, which aborts the process (SIGABRT) now and then.
    os._exit(0)


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
@pytest.mark.parametrize("attach", [False, True], ids=["loss-term", "attached"])
def test_two_process_gloo_ranks_stay_in_sync(tmp_path, attach):
    torch.manual_seed(0)
    start = [p.detach().clone() for p in
             nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3)).parameters()]
    mp.spawn(train, args=(2, free_port(), str(tmp_path), attach), nprocs=2, join=True)
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    for a, b, s in zip(rank0, rank1, start):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        assert not torch.equal(a, s)
