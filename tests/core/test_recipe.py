import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl
from reglab._core import registry
from reglab._core.registry import Capabilities, Family, Kind, Paper


def data(n=16):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 4, generator=g, dtype=torch.float64), torch.randint(0, 3, (n,), generator=g)


def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double()


def test_step_equals_the_hand_written_loop():
    x, y = data()
    m1, m2 = model(), model()
    opt1 = torch.optim.SGD(m1.parameters(), lr=0.1, momentum=0.9)
    opt2 = torch.optim.SGD(m2.parameters(), lr=0.1, momentum=0.9)
    recipe = rl.Recipe([rl.L2(m1, strength=0.01), opt1])
    pen2 = rl.L2(m2, strength=0.01)
    for _ in range(3):
        loss1 = recipe.step(m1, x, y)
        opt2.zero_grad()
        loss2 = F.cross_entropy(m2(x), y) + pen2()
        loss2.backward()
        opt2.step()
        assert loss1.item() == loss2.item()
    for a, b in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(a, b)


# Stand-ins registered only for these tests, to exercise the capability checks.
PAPER = Paper("T", "Test", 2024)


class ClosureOpt(torch.optim.Optimizer):
    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.param_groups = optimizer.param_groups
        self.calls = 0
        self.state = optimizer.state
        self.defaults = optimizer.defaults

    def step(self, closure=None):
        if closure is None:
            raise ValueError("needs a closure")
        self.calls += 1
        loss = closure()
        self.optimizer.step()
        return loss


class OtherClosureOpt(ClosureOpt):
    pass


class ClosureSGD(torch.optim.SGD):
    """An optimizer (not a reglab wrapper) that evaluates the closure itself, as LBFGS does."""

    calls = 0

    def step(self, closure=None):
        if closure is None:
            raise ValueError("needs a closure")
        self.calls += 1
        loss = closure()
        super().step()
        return loss


class HardLabelLoss(nn.Module):
    def forward(self, logits, y, index):
        assert y.dtype == torch.long
        return F.cross_entropy(logits, y)


class SoftTargets(nn.Module):
    def forward(self, x, y):
        return x, F.one_hot(y, 3).double()


@pytest.fixture(scope="module", autouse=True)
def stand_ins():
    added = {
        "test-closure-opt": (ClosureOpt, Kind.OPTIMIZER, Capabilities(needs_closure=True)),
        "test-other-closure-opt": (OtherClosureOpt, Kind.OPTIMIZER, Capabilities(needs_closure=True)),
        "test-closure-sgd": (ClosureSGD, Kind.OPTIMIZER, Capabilities(needs_closure=True)),
        "test-hard-loss": (HardLabelLoss, Kind.LOSS,
                           Capabilities(needs_hard_labels=True, needs_sample_index=True)),
        "test-soft-targets": (SoftTargets, Kind.TRANSFORM, Capabilities(changes_targets=True)),
    }
    for name, (cls, kind, caps) in added.items():
        registry.register(name, family=Family.OPTIMIZER, kind=kind, paper=PAPER, capabilities=caps)(cls)
    yield
    for name in added:
        del registry._ENTRIES[name]


def test_closure_wrapper_gets_a_closure_and_index_reaches_the_loss():
    x, y = data()
    m = model()
    opt = ClosureOpt(torch.optim.SGD(m.parameters(), lr=0.1))
    recipe = rl.Recipe([HardLabelLoss(), opt])
    with pytest.raises(ValueError, match="needs the batch's sample indices"):
        recipe.step(m, x, y)
    recipe.step(m, x, y, index=torch.arange(len(y)))
    assert opt.calls == 1


@pytest.mark.parametrize("outer", [rl.ClipGradNorm, rl.PerpGrad, rl.DecoupledWeightDecay, rl.ProximalL1])
def test_a_rewrite_around_sam_equals_sam_around_it(outer):
    """The closure is passed through: outer(SAM(opt)) steps like SAM(outer(opt)) in a Recipe."""
    x, y = data()
    m1, m2 = model(), model()
    r1 = rl.Recipe([outer(rl.SAM(torch.optim.SGD(m1.parameters(), lr=0.1), rho=0.1))])
    r2 = rl.Recipe([rl.SAM(outer(torch.optim.SGD(m2.parameters(), lr=0.1)), rho=0.1)])
    for _ in range(2):
        torch.testing.assert_close(r1.step(m1, x, y), r2.step(m2, x, y), rtol=0, atol=0)
    for p, q in zip(m1.parameters(), m2.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-14)


def test_proximal_l1_forwards_the_closure_to_any_optimizer():
    x, y = data()
    m = model()
    inner = ClosureSGD(m.parameters(), lr=0.1)
    rl.Recipe([rl.ProximalL1(inner, strength=1e-3)]).step(m, x, y)
    assert inner.calls == 1


def test_soft_targets_reach_the_default_loss():
    x, y = data()
    m = model()
    recipe = rl.Recipe([SoftTargets(), torch.optim.SGD(m.parameters(), lr=0.1)])
    loss = recipe.step(m, x, y)
    assert torch.isclose(loss, F.cross_entropy(model()(x), y))


@pytest.mark.parametrize(
    "methods, message",
    [
        (lambda m: [], "needs one optimizer"),
        (lambda m: [torch.optim.SGD(m.parameters(), lr=1), torch.optim.SGD(m.parameters(), lr=1)],
         "got 2 optimizers"),
        (lambda m: [OtherClosureOpt(ClosureOpt(torch.optim.SGD(m.parameters(), lr=1)))],
         "both re-evaluate the loss"),
        (lambda m: [rl.ClipGradNorm(ClosureOpt(torch.optim.SGD(m.parameters(), lr=1)))],
         "'clip-grad-norm' steps 'test-closure-opt' without passing it the closure"),
        (lambda m: [SoftTargets(), HardLabelLoss(), torch.optim.SGD(m.parameters(), lr=1)],
         "'test-soft-targets' turns labels into soft targets, but the loss 'test-hard-loss' needs"),
        (lambda m: [nn.MSELoss(), nn.L1Loss(), torch.optim.SGD(m.parameters(), lr=1)],
         "got 2 losses"),
        (lambda m: ["l2", torch.optim.SGD(m.parameters(), lr=1)], "cannot place str"),
    ],
)
def test_incompatible_combinations_are_refused_with_a_reason(methods, message):
    m = model()
    with pytest.raises((ValueError, TypeError), match=message):
        rl.Recipe(methods(m))


def test_repr_lists_the_parts():
    m = model()
    r = rl.Recipe([rl.L2(m), torch.optim.SGD(m.parameters(), lr=1)])
    assert repr(r) == "Recipe([CrossEntropyLoss, 'l2', SGD])"


class TwoSamples(nn.Module):
    """Returns the logits and their negation as two samples."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3).double()

    def forward(self, x):
        from reglab._core.outputs import SampleOutputs

        out = self.lin(x)
        return SampleOutputs((out, -out)) if self.training else out


def test_sample_outputs_average_the_per_sample_losses():
    x, y = data()
    m = TwoSamples()
    opt = torch.optim.SGD(m.parameters(), lr=0.0)
    expected = (F.cross_entropy(m.lin(x), y) + F.cross_entropy(-m.lin(x), y)) / 2
    loss = rl.Recipe([opt]).step(m, x, y)
    assert torch.isclose(loss, expected.detach())
