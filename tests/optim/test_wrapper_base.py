"""The shared plumbing of optimizer wrappers and post-step hooks."""

import copy

import pytest
import torch
from torch import nn

from reglab._core.post_step import PostStepHook
from reglab.optim._wrapper import OptimizerWrapper


class Scale(OptimizerWrapper):
    """Minimal wrapper: multiplies gradients by a per-group factor, then steps the inner one."""

    def __init__(self, optimizer, factor=0.5):
        super().__init__(optimizer, {"factor": factor})

    @torch.no_grad()
    def step(self, closure=None):
        loss = self._require_closure(closure)()
        for group in self.param_groups:
            for p in group["params"]:
                p.grad.mul_(group["factor"])
                self.state[p]["seen"] = self.state[p].get("seen", 0) + 1
        self.optimizer.step()
        return loss


def setup():
    torch.manual_seed(0)
    model = nn.Linear(3, 1).double()
    x, y = torch.randn(8, 3, dtype=torch.float64), torch.randn(8, 1, dtype=torch.float64)
    opt = Scale(torch.optim.Adam(model.parameters(), lr=0.1))

    def closure():
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        return loss

    return model, opt, closure


def test_param_groups_are_shared_so_schedulers_reach_the_inner_optimizer():
    _, opt, closure = setup()
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    opt.step(closure)
    sched.step()
    assert opt.optimizer.param_groups[0]["lr"] == pytest.approx(0.05)
    assert opt.param_groups is opt.optimizer.param_groups
    assert opt.optimizer.param_groups[0]["factor"] == 0.5


def test_state_dict_round_trip_resumes_the_same_trajectory():
    model, opt, closure = setup()
    for _ in range(2):
        opt.step(closure)
    saved_model = {k: v.clone() for k, v in model.state_dict().items()}
    saved = copy.deepcopy(opt.state_dict())  # state_dict() holds references
    for _ in range(2):
        opt.step(closure)
    after = [p.clone() for p in model.parameters()]

    model2, opt2, closure2 = setup()
    model2.load_state_dict(saved_model)
    opt2.load_state_dict(saved)
    assert opt2.param_groups is opt2.optimizer.param_groups
    for _ in range(2):
        opt2.step(closure2)
    for a, b in zip(after, model2.parameters()):
        assert torch.equal(a, b)
    assert opt2.state[next(model2.parameters())]["seen"] == 4


def test_errors_are_clear():
    model, opt, _ = setup()
    with pytest.raises(ValueError, match=r"Scale.step needs a closure"):
        opt.step()
    with pytest.raises(TypeError, match="optimizer must be a torch.optim.Optimizer, got Linear"):
        Scale(model)
    with pytest.raises(ValueError, match="keys 'inner' and 'wrapper'"):
        opt.load_state_dict(opt.optimizer.state_dict())


class Counter(PostStepHook):
    def __init__(self):
        super().__init__()
        self.count = 0

    def after_step(self, optimizer):
        self.count += 1


def test_post_step_hook_attaches_once_and_detaches():
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    hook = Counter()
    hook.attach(opt)
    hook.attach(opt)
    opt.step()
    assert hook.count == 1
    hook.detach()
    opt.step()
    assert hook.count == 1
    with pytest.raises(ValueError, match="keeps no state"):
        hook.load_state_dict({"x": 1})


def test_add_param_group_reaches_the_inner_optimizer_with_both_defaults():
    model, opt, _ = setup()
    extra = nn.Parameter(torch.ones(2, dtype=torch.float64))
    opt.add_param_group({"params": [extra], "lr": 0.5})
    group = opt.optimizer.param_groups[-1]
    assert opt.param_groups is opt.optimizer.param_groups and len(opt.param_groups) == 2
    assert group["lr"] == 0.5 and group["factor"] == 0.5 and "betas" in group
    for p in [extra, *model.parameters()]:
        p.grad = torch.ones_like(p)
    opt.optimizer.step()  # Adam finds its own defaults (fused, foreach, ...) in the new group
    assert not torch.equal(extra.detach(), torch.ones(2, dtype=torch.float64))
