import pytest
import torch
from torch import nn

import reglab as rl
from reglab import functional as RF


def shapes_params(seed=0):
    g = torch.Generator().manual_seed(seed)
    shapes = [(4, 3, 3, 3), (6,), (5, 7), (5, 7), (8, 2)]
    return [torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True) for s in shapes]


def test_value_equals_matrix_norm_nuc_per_matrix():
    ps = shapes_params()
    expected = sum(torch.linalg.matrix_norm(p.reshape(p.shape[0], -1), ord="nuc") for p in ps if p.ndim >= 2)
    torch.testing.assert_close(RF.nuclear(ps), expected, rtol=1e-12, atol=0)


def test_gradient_is_u_vt_and_passes_gradcheck():
    w = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    rl.Nuclear([w], strength=0.7)().backward()
    u, _, vh = torch.linalg.svd(w.detach(), full_matrices=False)
    torch.testing.assert_close(w.grad, 0.7 * u @ vh)
    ps = shapes_params(1)
    assert torch.autograd.gradcheck(lambda a, b, c: RF.nuclear([a, b, c]), (ps[0], ps[2], ps[3]))


def test_cnn_and_empty_matrix_selection():
    cnn = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).double()
    expected = 0.1 * torch.linalg.matrix_norm(cnn[0].weight.reshape(4, -1), ord="nuc")
    torch.testing.assert_close(rl.Nuclear(cnn, strength=0.1)(), expected)
    with pytest.raises(ValueError, match=r"params selects no matrices.*got shapes \[\(4,\)\]"):
        rl.Nuclear([torch.ones(4)])
