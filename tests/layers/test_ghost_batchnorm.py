"""Ghost batch norm equals nn.BatchNorm applied ghost batch by ghost batch: outputs, gradients,
running statistics and the ghost-batch count; it is BatchNorm when G >= N, and in eval mode."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl
from reglab.functional import ghost_batch_norm
from reglab.layers.ghost_batchnorm import ghost_sizes


def chunked_reference(bn, x, sizes):
    """nn.BatchNorm run on each ghost batch in turn (the paper's definition)."""
    return torch.cat([bn(chunk) for chunk in x.split(sizes)])


@pytest.mark.parametrize("shape,g", [((64, 5), 16), ((10, 3, 4, 4), 4), ((13, 2, 7), 5),
                                     ((7, 4), 32)])
def test_equals_batchnorm_chunk_by_chunk_with_gradients_and_running_stats(shape, g):
    torch.manual_seed(0)
    x = (torch.randn(*shape, dtype=torch.float64) * 3 + 1).requires_grad_()
    bn_cls = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d}[len(shape)]
    bn = bn_cls(shape[1], momentum=0.3, dtype=torch.float64)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2.0)
        bn.bias.normal_()
    ref_bn = copy.deepcopy(bn)
    ghost = rl.GhostBatchNorm.from_batchnorm(copy.deepcopy(bn), g)
    ghost.running_mean.copy_(torch.randn(shape[1]))  # start both from the same non-trivial stats
    ref_bn.running_mean.copy_(ghost.running_mean)
    for _ in range(2):  # two steps: the running statistics carry over
        y = ghost(x)
        y_ref = chunked_reference(ref_bn, x, ghost_sizes(shape[0], g))
        torch.testing.assert_close(y, y_ref)
        w = torch.randn_like(y)
        gx, gw = torch.autograd.grad((y * w).sum(), (x, ghost.weight))
        gx_ref, gw_ref = torch.autograd.grad((y_ref * w).sum(), (x, ref_bn.weight))
        torch.testing.assert_close(gx, gx_ref)
        torch.testing.assert_close(gw, gw_ref)
        torch.testing.assert_close(ghost.running_mean, ref_bn.running_mean)
        torch.testing.assert_close(ghost.running_var, ref_bn.running_var)
        assert int(ghost.num_batches_tracked) == int(ref_bn.num_batches_tracked)
    ghost.eval(), ref_bn.eval()
    torch.testing.assert_close(ghost(x), ref_bn(x))


def test_ghost_sizes_are_balanced_and_cover_the_batch():
    assert ghost_sizes(64, 16) == [16] * 4
    assert ghost_sizes(33, 32) == [17, 16]
    assert ghost_sizes(6, 4) == [3, 3]
    assert ghost_sizes(5, 32) == [5]
    for n in range(1, 50):
        for g in (1, 3, 8):
            s = ghost_sizes(n, g)
            assert sum(s) == n and max(s) <= g and max(s) - min(s) <= 1


def test_large_ghost_batch_is_plain_batchnorm_and_small_ones_differ():
    torch.manual_seed(1)
    x = torch.randn(32, 6) * 2
    bn, ghost = nn.BatchNorm1d(6), rl.GhostBatchNorm(6, ghost_batch_size=32)
    torch.testing.assert_close(ghost(x), bn(x))
    torch.testing.assert_close(ghost.running_var, bn.running_var)
    small = rl.GhostBatchNorm(6, ghost_batch_size=8)
    assert not torch.allclose(small(x), bn(x), atol=1e-3)


def test_functional_form_and_its_errors():
    torch.manual_seed(2)
    x = torch.randn(12, 3, dtype=torch.float64)
    rm, rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    y = ghost_batch_norm(x, 4, rm, rv, momentum=0.5)
    ref = torch.cat([F.batch_norm(c, None, None, training=True) for c in x.split(4)])
    torch.testing.assert_close(y, ref)
    means = [c.mean(0) for c in x.split(4)]
    expected = torch.zeros(3, dtype=torch.float64)
    for m in means:
        expected = 0.5 * expected + 0.5 * m
    torch.testing.assert_close(rm, expected)
    with pytest.raises(ValueError, match="one value per channel"):
        ghost_batch_norm(torch.randn(3, 2), 1)


def test_surgery_replaces_every_batchnorm_sharing_parameters_and_is_idempotent():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(),
                          nn.Linear(4 * 6 * 6, 5), nn.BatchNorm1d(5, affine=False))
    weight = model[1].weight
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model.eval()
    rl.apply_ghost_batchnorm(model, ghost_batch_size=4)
    assert isinstance(model[1], rl.GhostBatchNorm) and isinstance(model[4], rl.GhostBatchNorm)
    assert model[1].weight is weight and model[4].weight is None and not model[1].training
    first = model[1]
    rl.apply_ghost_batchnorm(model, ghost_batch_size=8)
    assert model[1] is first and first.ghost_batch_size == 4
    model.train()
    out = model(torch.randn(8, 3, 8, 8))
    F.cross_entropy(out, torch.randint(0, 5, (8,))).backward()
    opt.step()
    assert weight.grad is not None and int(model[1].num_batches_tracked) == 2
    assert isinstance(rl.apply_ghost_batchnorm(nn.BatchNorm1d(3), 2), rl.GhostBatchNorm)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="ghost_batch_size must be >= 1"):
        rl.GhostBatchNorm(4, ghost_batch_size=0)
    with pytest.raises(ValueError, match="momentum must be"):
        rl.apply_ghost_batchnorm(nn.BatchNorm1d(3, momentum=None))
    with pytest.raises(ValueError, match="no batch-norm layers"):
        rl.apply_ghost_batchnorm(nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"expects inputs \(N, 4"):
        rl.GhostBatchNorm(4)(torch.randn(8, 3))
