"""StepHook: one live registration per method, removable through its handle, never copied."""

import copy
import gc

import pytest
import torch

from reglab._core.post_step import PostStepHook
from reglab._core.step_hook import StepHook


class Counter(PostStepHook):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def after_step(self, optimizer):
        self.calls += 1


def _opt():
    return torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)


def test_attach_twice_runs_once_and_moving_to_another_optimizer_leaves_the_first():
    hook, a, b = Counter(), _opt(), _opt()
    assert hook.attach(a) is hook.attach(a)
    a.step()
    assert hook.calls == 1
    hook.attach(b)
    a.step()
    b.step()
    assert hook.calls == 2


def test_removing_the_handle_is_detach_and_attach_works_again():
    hook, opt = Counter(), _opt()
    hook.attach(opt).remove()
    opt.step()
    assert hook.calls == 0 and not hook._step_hook.live
    hook.attach(opt)
    opt.step()
    assert hook.calls == 1


def test_copies_come_out_detached_and_the_original_keeps_running():
    hook, opt = Counter(), _opt()
    hook.attach(opt)
    clone = copy.deepcopy(hook)
    assert not clone._step_hook.live and hook._step_hook.live
    opt.step()
    assert (hook.calls, clone.calls) == (1, 0)
    clone.attach(opt)  # a copy attaches on its own
    opt.step()
    assert (hook.calls, clone.calls) == (2, 1)


def test_a_collected_optimizer_leaves_the_hook_detached():
    slot = StepHook()
    slot.attach(_opt(), lambda o: o.register_step_post_hook(lambda *a: None))
    gc.collect()
    assert not slot.live and slot.optimizer is None


def test_attach_refuses_what_is_not_an_optimizer():
    with pytest.raises(TypeError, match="optimizer must be a torch.optim.Optimizer, got list"):
        Counter().attach([])
