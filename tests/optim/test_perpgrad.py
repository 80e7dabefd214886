"""⊥Grad: the applied gradient is orthogonal to the weights (per tensor or globally), norms are
kept when rescaling, and the global unscaled form is the paper's equation on the flat vector."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl
from reglab import functional as RF
import wrapper_checks as checks


def applied(projection, rescale, closure_given=True):
    """(weights before, gradient before projection, gradient applied) per tensor, SGD lr=1."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 7), nn.Tanh(), nn.Linear(7, 3)).double()
    x, y = torch.randn(16, 4, dtype=torch.float64), torch.randint(0, 3, (16,))
    opt = rl.PerpGrad(torch.optim.SGD(model.parameters(), lr=1.0), projection=projection, rescale=rescale)
    before = [p.detach().clone() for p in model.parameters()]

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss

    if closure_given:
        loss = opt.step(closure)
        assert loss is not None
    else:
        closure()
        assert opt.step() is None
    raw = [p.grad for p in model.parameters()]  # replaced by the projected gradient
    moved = [b - p.detach() for b, p in zip(before, model.parameters())]
    return before, raw, moved


@pytest.mark.parametrize("rescale", [True, False])
def test_each_applied_tensor_gradient_is_orthogonal_to_its_weights(rescale):
    before, _, moved = applied("per-tensor", rescale)
    for w, g in zip(before, moved):
        assert abs(float((w * g).sum())) <= 1e-12 * float(w.norm() * g.norm())
        assert float(g.norm()) > 0


@pytest.mark.parametrize("rescale", [True, False])
def test_global_applied_gradient_is_orthogonal_to_the_parameter_vector(rescale):
    before, _, moved = applied("global", rescale, closure_given=False)
    w, g = torch.cat([t.flatten() for t in before]), torch.cat([t.flatten() for t in moved])
    assert abs(float(w @ g)) <= 1e-12 * float(w.norm() * g.norm())


def reference_paper_projection(params, grads):
    w = torch.cat([p.flatten() for p in params])
    g = torch.cat([q.flatten() for q in grads])
    return g - (w @ g) / (w @ w) * w


def test_global_without_rescale_is_the_papers_equation_and_rescale_keeps_norms():
    g = torch.Generator().manual_seed(1)
    params = [torch.randn(3, 2, generator=g, dtype=torch.float64), torch.randn(4, generator=g, dtype=torch.float64)]
    grads = [torch.randn(3, 2, generator=g, dtype=torch.float64), torch.randn(4, generator=g, dtype=torch.float64)]
    out = RF.perpendicular_gradient(params, grads, "global", rescale=False)
    torch.testing.assert_close(torch.cat([o.flatten() for o in out]), reference_paper_projection(params, grads))
    per = RF.perpendicular_gradient(params, grads, "per-tensor", rescale=False)
    for p, q, o in zip(params, grads, per):
        torch.testing.assert_close(o.flatten(), reference_paper_projection([p], [q]))
    scaled = RF.perpendicular_gradient(params, grads, "per-tensor", rescale=True)
    for q, o, s in zip(grads, per, scaled):
        torch.testing.assert_close(s.norm(), q.norm())
        torch.testing.assert_close(s / s.norm(), o / o.norm())


def test_zero_weights_pass_the_gradient_and_a_parallel_gradient_vanishes():
    w = [torch.zeros(3, dtype=torch.float64), torch.tensor([1.0, 2.0], dtype=torch.float64)]
    g = [torch.tensor([1.0, -1.0, 2.0], dtype=torch.float64), torch.tensor([-2.0, -4.0], dtype=torch.float64)]
    out = RF.perpendicular_gradient(w, g, rescale=True)
    torch.testing.assert_close(out[0], g[0])
    assert torch.equal(out[1], torch.zeros(2, dtype=torch.float64))
    assert all(torch.isfinite(o).all() for o in out)


def test_bad_arguments_name_the_argument():
    w = [nn.Parameter(torch.ones(2))]
    with pytest.raises(ValueError, match="projection must be one of global, per-tensor"):
        rl.PerpGrad(torch.optim.SGD(w, lr=0.1), projection="per-layer")
    with pytest.raises(TypeError, match="rescale must be a bool"):
        rl.PerpGrad(torch.optim.SGD(w, lr=0.1), rescale="yes")


@pytest.mark.parametrize("projection", ["per-tensor", "global"])
def test_wrapper_checks(projection):
    wrap = lambda o: rl.PerpGrad(o, projection=projection)  # noqa: E731
    checks.check_resume_gives_identical_trajectory(wrap)
    checks.check_scheduler_reaches_inner(wrap)
    checks.check_runs_under_no_grad(wrap)
