"""Half fine-tuning: exactly half of each block's units frozen, reproducible, frozen values kept."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl


def _blocks(n_blocks: int, width: int = 4) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(*[nn.Sequential(nn.Linear(width, width), nn.Linear(width, width),
                                         nn.Linear(width, width)) for _ in range(n_blocks)])


def test_each_block_freezes_half_with_alternating_rounding() -> None:
    net = _blocks(4)
    frozen = rl.apply_half_finetuning(net, blocks=[str(i) for i in range(4)],
                                      generator=torch.Generator().manual_seed(1))
    per_block = [sum(1 for n in frozen if n.startswith(f"{i}.") and n.endswith("weight")) for i in range(4)]
    assert all(k in (1, 2) for k in per_block)
    assert sum(per_block) == 6  # 12 units, odd blocks alternate ⌊3/2⌋ and ⌈3/2⌉
    for name, p in net.named_parameters():
        assert p.requires_grad == (name not in frozen)
    # a weight and its bias are one unit
    assert {n.rsplit(".", 1)[0] for n in frozen if n.endswith("weight")} == {
        n.rsplit(".", 1)[0] for n in frozen if n.endswith("bias")}


def test_draw_is_reproducible_and_roughly_uniform() -> None:
    a = rl.apply_half_finetuning(_blocks(1), generator=torch.Generator().manual_seed(5))
    b = rl.apply_half_finetuning(_blocks(1), generator=torch.Generator().manual_seed(5))
    assert a == b
    counts = torch.zeros(3)
    for seed in range(600):
        net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 2))
        for n in rl.apply_half_finetuning(net, generator=torch.Generator().manual_seed(seed)):
            if n.endswith("weight") and int(n[0]) < 3:
                counts[int(n[0])] += 1
    # each of 4 layers is frozen with probability 1/2: 600 draws, sd ≈ 12.2
    assert ((counts - 300).abs() < 50).all()


def test_frozen_half_keeps_its_values_through_training() -> None:
    net = _blocks(2)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    frozen = rl.apply_half_finetuning(net, blocks=["0", "1"], generator=torch.Generator().manual_seed(0))
    opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=0.1, weight_decay=0.1)
    x, y = torch.randn(8, 4), torch.randn(8, 4)
    for _ in range(3):
        opt.zero_grad()
        F.mse_loss(net(x), y).backward()
        opt.step()
    for name, p in net.named_parameters():
        assert torch.equal(p, before[name]) == (name in frozen)
    rl.unfreeze(net, frozen)
    assert all(p.requires_grad for p in net.parameters())


def test_refuses_bad_blocks_naming_the_argument() -> None:
    with pytest.raises(ValueError, match="blocks"):
        rl.apply_half_finetuning(_blocks(1), blocks=["9"])
    with pytest.raises(ValueError, match="at least 2"):
        rl.apply_half_finetuning(nn.Linear(2, 2))


def test_keep_head_leaves_the_last_linear_out_of_the_draw() -> None:
    for seed in range(20):
        net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 2))
        frozen = rl.apply_half_finetuning(net, keep_head=True, generator=torch.Generator().manual_seed(seed))
        assert not any(n.startswith("2.") for n in frozen) and len(frozen) == 2  # 1 of the 2 others
        assert net[2].weight.requires_grad
    with pytest.raises(ValueError, match="keep_head"):
        rl.apply_half_finetuning(nn.Sequential(nn.Conv1d(1, 1, 1), nn.Conv1d(1, 1, 1)), keep_head=True)


def test_a_recipe_file_applies_it_after_loading_the_pretrained_weights(tmp_path) -> None:
    from reglab.bench.runs import Settings, Status, resolve
    from reglab.bench.run_weights import load_weights
    from reglab.bench.train import execute, prepare

    fast = Settings(data={"pretrain_steps": 5, "pretrain_batch_size": 32},
                    model={"arch": "mlp", "width": 16, "depth": 2}, budget={"steps": 3, "eval_every": 3})
    config = resolve("finetune-digits", "half-finetuning", 0, [fast])
    _, _, _, model, _ = prepare(config, tmp_path)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    head = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1]
    assert len(frozen) == 2 and not any(n.startswith(head + ".") for n in frozen)  # 1 of 2 hidden layers
    _, _, _, again, _ = prepare(config, tmp_path)  # the draw is the run's own seeded stream
    assert frozen == {n for n, p in again.named_parameters() if not p.requires_grad}
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    assert execute(config, tmp_path).status is Status.DONE
    final = load_weights(tmp_path, config.key)
    for n in start:  # frozen weights keep their pretrained values; the rest are trained
        assert torch.equal(final[n], start[n]) == (n in frozen), n
