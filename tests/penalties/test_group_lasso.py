import math

import pytest
import torch
from torch import nn

import reglab as rl
from reglab import functional as RF
from reglab.penalties.group_lasso import GroupBy


def reference_groups(p, groups):
    """Each group of p as a flat tensor, by plain indexing."""
    if groups is GroupBy.ROWS:
        return [p[o].reshape(-1) for o in range(p.shape[0])]
    if groups is GroupBy.COLUMNS:
        return [p[:, i].reshape(-1) for i in range(p.shape[1])]
    if p.ndim == 2:
        return [p[o, i].reshape(1) for o in range(p.shape[0]) for i in range(p.shape[1])]
    return [p[o, i].reshape(-1) for o in range(p.shape[0]) for i in range(p.shape[1])]


def reference_value(params, groups):
    total = torch.zeros((), dtype=torch.float64)
    for p in params:
        if p.ndim < 2:
            continue
        for g in reference_groups(p, groups):
            total = total + math.sqrt(g.numel()) * torch.sqrt((g * g).sum())
    return total


def tensors(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=g, dtype=torch.float64) for s in [(4, 5), (7,), (3, 2, 3, 3), (6, 4)]]


@pytest.mark.parametrize("groups", list(GroupBy))
def test_value_equals_per_group_loop(groups):
    ps = tensors()
    torch.testing.assert_close(RF.group_lasso(ps, groups), reference_value(ps, groups))
    pen = rl.GroupLasso(ps, strength=0.3, groups=groups.value)
    torch.testing.assert_close(pen(), 0.3 * reference_value(ps, groups))


def test_kernels_on_a_matrix_is_l1():
    p = tensors()[0]
    torch.testing.assert_close(RF.group_lasso([p], GroupBy.KERNELS), p.abs().sum())


@pytest.mark.parametrize("groups", list(GroupBy))
def test_gradcheck_float64(groups):
    ps = [p.clone().requires_grad_() for p in tensors(1) if p.ndim >= 2]
    assert torch.autograd.gradcheck(lambda *xs: RF.group_lasso(list(xs), groups), ps)


def test_gradient_of_a_zero_group_is_zero_not_nan():
    w = torch.tensor([[0.0, 0.0], [3.0, 4.0]], requires_grad=True)
    RF.group_lasso([w]).backward()
    expected = torch.tensor([[0.0, 0.0], [0.6, 0.8]]) * math.sqrt(2)
    torch.testing.assert_close(w.grad, expected)


@pytest.mark.parametrize("groups", list(GroupBy))
def test_block_soft_threshold_equals_per_group_loop_with_exact_zero_groups(groups):
    ps = tensors(2)
    t = 0.6
    expected = []
    for p in ps:
        if p.ndim < 2:
            expected.append(p.clone())
            continue
        q = p.clone()
        views = reference_groups(q, groups)  # flat copies: rebuild the tensor group by group
        shrunk = [g * max(0.0, 1 - t * math.sqrt(g.numel()) / float(g.norm())) for g in views]
        if groups is GroupBy.ROWS:
            q = torch.stack([s.reshape(p.shape[1:]) for s in shrunk])
        elif groups is GroupBy.COLUMNS:
            q = torch.stack([s.reshape(p.shape[:1] + p.shape[2:]) for s in shrunk], dim=1)
        else:
            q = torch.stack(shrunk).reshape(p.shape)
        expected.append(q)
    RF.block_soft_threshold_(ps, t, groups)
    for p, e in zip(ps, expected):
        torch.testing.assert_close(p, e, rtol=1e-12, atol=1e-15)
    zero_groups = sum(int((RF.group_norms(p, groups) == 0).sum()) for p in ps if p.ndim >= 2)
    assert zero_groups > 0


def test_prox_and_sparsity_per_layer():
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
    pen = rl.GroupLasso(model, strength=1.0)
    with torch.no_grad():
        model[0].weight[:3] *= 1e-3
    pen.prox_(0.05)
    sp = pen.sparsity()
    assert set(sp) == {"0.weight", "2.weight"}
    assert sp["0.weight"] == pytest.approx(0.5)
    assert torch.equal(model[0].weight[:3], torch.zeros(3, 4))


def test_bad_groups_names_argument_and_choices():
    with pytest.raises(ValueError, match="groups must be one of columns, kernels, rows"):
        rl.GroupLasso([torch.ones(2, 2)], groups="filters")
    with pytest.raises(ValueError, match="matrices"):
        rl.GroupLasso([torch.ones(2)])
