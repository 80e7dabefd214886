import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl


class Quadratic(nn.Module):
    """L(w) = ½ wᵀ A w for a fixed symmetric A: its Hessian is A everywhere."""

    def __init__(self, a):
        super().__init__()
        self.a = a
        self.w = nn.Parameter(torch.randn(a.shape[0], dtype=a.dtype))

    def forward(self, x):
        return 0.5 * self.w @ self.a @ self.w


def quadratic_loss(out, y):
    return out


def spd(n, seed, top=None):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    eig = torch.linspace(0.1, 1.0, n, dtype=torch.float64)
    if top is not None:
        eig[-1] = top
    return q @ torch.diag(eig) @ q.T, eig


def test_sharpness_of_a_quadratic_is_its_top_eigenvalue():
    a, eig = spd(12, seed=0, top=5.0)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    value = rl.sharpness(Quadratic(a), quadratic_loss, (None, None), iterations=60, generator=g)
    assert float(value) == pytest.approx(float(eig.max()), rel=1e-8)
    assert value.dtype == torch.float64 and not value.requires_grad


def test_sharpness_of_an_mlp_equals_the_top_eigenvalue_of_its_explicit_hessian():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    g = torch.Generator().manual_seed(0)
    x, y = (
        torch.randn(10, 3, generator=g, dtype=torch.float64),
        torch.randint(0, 2, (10,), generator=g),
    )
    names = [n for n, _ in model.named_parameters()]
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    shapes = [p.shape for p in model.parameters()]

    def loss_of(vec):
        params, i = {}, 0
        for n, s in zip(names, shapes):
            params[n] = vec[i : i + s.numel()].view(s)
            i += s.numel()
        return F.cross_entropy(torch.func.functional_call(model, params, (x,)), y)

    eig = torch.linalg.eigvalsh(torch.autograd.functional.hessian(loss_of, flat))
    top = eig[eig.abs().argmax()]
    value = rl.sharpness(model, F.cross_entropy, (x, y), iterations=300, generator=g)
    assert float(value) == pytest.approx(float(top), rel=1e-6)


def test_does_not_touch_parameter_gradients():
    model = nn.Linear(3, 2).double()
    x, y = torch.randn(4, 3, dtype=torch.float64), torch.tensor([0, 1, 0, 1])
    rl.sharpness(model, F.cross_entropy, (x, y), iterations=2)
    assert all(p.grad is None for p in model.parameters())


def test_bad_arguments_name_the_argument():
    model = nn.Linear(3, 2)
    batch = (torch.randn(4, 3), torch.tensor([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="iterations must be >= 1"):
        rl.sharpness(model, F.cross_entropy, batch, iterations=0)
    with pytest.raises(ValueError, match="batch must be a pair"):
        rl.sharpness(model, F.cross_entropy, batch[0])
    with pytest.raises(TypeError, match="generator must be"):
        rl.sharpness(model, F.cross_entropy, batch, generator=0)
    with pytest.raises(TypeError, match="model must be"):
        rl.sharpness(lambda x: x, F.cross_entropy, batch)
