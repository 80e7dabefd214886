import pytest
import torch
from torch import nn

import reglab as rl
from reglab import functional as RF


def brute_force(params, groups):
    """Loop over matrices and row blocks; smaller Gram per block."""
    total = torch.zeros((), dtype=torch.float64)
    for p in params:
        if p.ndim < 2:
            continue
        w = p.reshape(p.shape[0], -1)
        size = w.shape[0] // groups
        for g in range(groups):
            block = w[g * size:(g + 1) * size]
            gram = block @ block.T if block.shape[0] <= block.shape[1] else block.T @ block
            total = total + ((gram - torch.eye(gram.shape[0], dtype=torch.float64)) ** 2).sum()
    return total


def params(seed=0):
    g = torch.Generator().manual_seed(seed)
    shapes = [(4, 2, 2, 2), (4,), (8, 3), (8, 3), (4, 6)]
    return [torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True) for s in shapes]


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_value_equals_brute_force(groups):
    ps = params()
    torch.testing.assert_close(RF.group_orthogonal(ps, groups), brute_force(ps, groups), rtol=1e-12, atol=0)


def test_one_row_per_group_is_the_row_norm_penalty():
    w = params(1)[2]
    expected = ((w.detach().pow(2).sum(1) - 1) ** 2).sum()
    torch.testing.assert_close(RF.group_orthogonal([w], groups=8), expected)


def test_gradcheck():
    ps = params(2)
    assert torch.autograd.gradcheck(lambda a, b: RF.group_orthogonal([a, b], 2), (ps[0], ps[2]))


def test_groups_must_divide_the_rows_naming_the_parameter():
    model = nn.Sequential(nn.Linear(3, 6), nn.Linear(6, 4))
    rl.GroupOrthogonal(model, groups=2)
    with pytest.raises(ValueError, match=r"groups must divide the rows.*groups=3 for '1.weight' with 4 rows"):
        rl.GroupOrthogonal(model, groups=3)
    with pytest.raises(ValueError, match="groups must be >= 1"):
        rl.GroupOrthogonal(model, groups=0)
    with pytest.raises(ValueError, match="groups must divide"):
        RF.group_orthogonal([torch.ones(5, 2)], groups=2)
