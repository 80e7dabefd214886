import copy

import pytest
import torch
from torch import nn

import reglab as rl
from reglab import functional as RF


def problem(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    x = torch.randn(32, 5, dtype=torch.float64)
    y = torch.randn(32, 3, dtype=torch.float64)
    return model, x, y


def loss_of(model, x, y):
    return ((model(x) - y) ** 2).mean()


@pytest.mark.parametrize("use_closure", [False, True])
def test_adam_inside_follows_adamw_with_a_scheduler(use_closure):
    ours_model, x, y = problem()
    ref_model = copy.deepcopy(ours_model)
    ours = rl.DecoupledWeightDecay(torch.optim.Adam(ours_model.parameters(), lr=0.05), weight_decay=0.3)
    ref = torch.optim.AdamW(ref_model.parameters(), lr=0.05, weight_decay=0.3)
    scheds = [torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=25) for o in (ours, ref)]
    for _ in range(25):
        for model, opt in ((ours_model, ours), (ref_model, ref)):
            def closure(model=model, opt=opt):
                opt.zero_grad()
                loss = loss_of(model, x, y)
                loss.backward()
                return loss
            if use_closure and opt is ours:
                assert opt.step(closure) is not None
            else:
                closure()
                assert opt.step() is None
        for s in scheds:
            s.step()
    for a, b in zip(ours_model.parameters(), ref_model.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
    assert ours.param_groups[0]["lr"] == ref.param_groups[0]["lr"]


def test_sgd_inside_equals_sgd_with_an_l2_penalty():
    """For plain SGD, decoupled decay λ and the L2 penalty λ give the same trajectory."""
    m1, x, y = problem(1)
    m2 = copy.deepcopy(m1)
    o1 = rl.DecoupledWeightDecay(torch.optim.SGD(m1.parameters(), lr=0.1), weight_decay=0.05)
    o2 = torch.optim.SGD(m2.parameters(), lr=0.1)
    pen = rl.L2(rl.select(m2, "all"), strength=0.05)
    for _ in range(10):
        o1.zero_grad(), o2.zero_grad()
        loss_of(m1, x, y).backward()
        (loss_of(m2, x, y) + pen()).backward()
        o1.step(), o2.step()
    for a, b in zip(m1.parameters(), m2.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)


def test_lr_independent_decay_ignores_the_learning_rate():
    w = nn.Parameter(torch.full((3,), 2.0, dtype=torch.float64))
    opt = rl.DecoupledWeightDecay(torch.optim.SGD([w], lr=0.5), weight_decay=0.1, lr_scaled=False)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.1)
    for _ in range(4):
        w.grad = torch.zeros_like(w)
        opt.step()
        sched.step()
    torch.testing.assert_close(w.detach(), torch.full((3,), 2.0 * 0.9**4, dtype=torch.float64))


def test_selection_per_group_override_and_parameters_without_gradient():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)).double()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    inner = torch.optim.SGD([{"params": model[0].parameters()}, {"params": model[1].parameters()}], lr=1.0)
    opt = rl.DecoupledWeightDecay(inner, weight_decay=0.5, params=model)  # weights only
    opt.param_groups[1]["reglab_weight_decay"] = 0.0
    model[0].weight.grad = torch.zeros(2, 2, dtype=torch.float64)
    model[0].bias.grad = torch.zeros(2, dtype=torch.float64)
    opt.step()
    after = model.state_dict()
    torch.testing.assert_close(after["0.weight"], 0.5 * before["0.weight"])
    for k in ("0.bias", "1.weight", "1.bias"):  # not selected / group override / no gradient
        assert torch.equal(after[k], before[k]), k


def test_foreach_decay_equals_per_tensor_loop():
    g = torch.Generator().manual_seed(0)
    ps = [torch.randn(*s, generator=g, dtype=torch.float64) for s in [(3, 4), (7,), (2, 2, 2)] * 30]
    ref = [p.clone() for p in ps]
    RF.decoupled_weight_decay_(ps, 0.013)
    for p, r in zip(ps, ref):
        assert torch.equal(p, r * (1 - 0.013))


def test_state_dict_nests_inner_and_wrapper_and_errors_are_clear():
    model, x, y = problem()
    opt = rl.DecoupledWeightDecay(torch.optim.Adam(model.parameters(), lr=0.01), weight_decay=0.1)
    loss_of(model, x, y).backward()
    opt.step()
    state = opt.state_dict()
    assert set(state) == {"inner", "wrapper", "step"} and state["step"] == 1
    assert state["wrapper"]["param_groups"][0]["reglab_weight_decay"] == 0.1
    with pytest.raises(ValueError, match=r"optimizer already applies weight_decay=\[0.01\]"):
        rl.DecoupledWeightDecay(torch.optim.AdamW(model.parameters()), weight_decay=0.1)
    with pytest.raises(ValueError, match="params holds tensors the optimizer does not update"):
        rl.DecoupledWeightDecay(torch.optim.Adam(model[0].parameters()), params=model)
    with pytest.raises(TypeError, match="lr_scaled must be a bool"):
        rl.DecoupledWeightDecay(torch.optim.Adam(model.parameters()), lr_scaled=1)
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        rl.DecoupledWeightDecay(torch.optim.Adam(model.parameters()), weight_decay=-1e-3)
