import pytest
import torch
from torch import nn

import reglab as rl
from reglab import functional as RF


def loop_l2(params):
    total = torch.zeros((), dtype=params[0].dtype)
    for p in params:
        total = total + 0.5 * (p * p).sum()
    return total


def test_value_equals_per_tensor_loop_in_float64():
    g = torch.Generator().manual_seed(0)
    params = [torch.randn(*s, generator=g, dtype=torch.float64) for s in [(3, 4), (7,), (2, 3, 5)]]
    torch.testing.assert_close(RF.l2(params), loop_l2(params), rtol=1e-14, atol=0)


def test_gradient_is_strength_times_weights_and_passes_gradcheck():
    w = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    v = torch.randn(5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: RF.l2([a, b]), (w, v))
    pen = rl.L2([w, v], strength=0.3)
    pen().backward()
    torch.testing.assert_close(w.grad, 0.3 * w.detach())


def test_module_selection_leaves_out_biases():
    model = nn.Linear(3, 2).double()
    expected = 0.1 * 0.5 * model.weight.pow(2).sum()
    torch.testing.assert_close(rl.L2(model, strength=0.1)(), expected)


def test_scheduled_strength_follows_the_counter_in_training_only():
    w = torch.ones(2, dtype=torch.float64)
    pen = rl.L2([w], strength=rl.schedules.early(1.0, until=2))
    assert [float(pen()) for _ in range(3)] == pytest.approx([1.0, 1.0, 0.0])
    pen.eval()
    pen.strength.step.zero_()
    assert [float(pen()) for _ in range(3)] == pytest.approx([1.0, 1.0, 1.0])


def test_bad_arguments():
    with pytest.raises(ValueError, match="strength must be >= 0, got -1"):
        rl.L2([torch.ones(1)], strength=-1)
    with pytest.raises(ValueError, match="selects no parameters"):
        rl.L2(nn.ReLU())


def test_module_with_strength_folded_in_equals_strength_times_the_loop_value_and_gradient():
    g = torch.Generator().manual_seed(5)
    shapes = [(3, 4), (7,), (2, 3, 5)]
    a = [torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True) for s in shapes]
    b = [p.detach().clone().requires_grad_() for p in a]
    for _ in range(2):  # the second call accumulates into existing gradients
        fast, slow = rl.L2(a, strength=0.37)(), 0.37 * sum(0.5 * (p * p).sum() for p in b)
        torch.testing.assert_close(fast, slow, rtol=1e-13, atol=0)
        fast.backward()
        slow.backward()
    for x, y in zip(a, b):
        torch.testing.assert_close(x.grad, y.grad, rtol=1e-13, atol=0)


def _trajectory(make_opt, attach: bool, steps: int = 4, scaler: bool = False) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    x, y = torch.randn(16, 5), torch.randint(0, 3, (16,))
    weights = rl.select(model).params()
    chosen = {id(p) for p in weights}
    others = [p for p in model.parameters() if id(p) not in chosen]
    opt = make_opt([{"params": weights, "weight_decay": 0.0 if attach else 0.3},
                    {"params": others, "weight_decay": 0.0}])
    if attach:
        rl.L2(model, strength=0.3).attach(opt)
    grad_scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10) if scaler else None
    out = []
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        if grad_scaler is None:
            loss.backward()
            opt.step()
        else:  # the scaler unscales before opt.step(): the penalty sees the true gradients
            grad_scaler.scale(loss).backward()
            grad_scaler.step(opt)
            grad_scaler.update()
        out.extend(p.detach().clone() for p in model.parameters())
    return out


OPTIMIZERS = {
    "sgd-momentum-foreach": lambda g: torch.optim.SGD(g, lr=0.1, momentum=0.9, foreach=True),
    "sgd-momentum-loop": lambda g: torch.optim.SGD(g, lr=0.1, momentum=0.9, foreach=False),
    "adam (coupled decay)": lambda g: torch.optim.Adam(g, lr=1e-2),
    "rmsprop": lambda g: torch.optim.RMSprop(g, lr=1e-2),
    # fused kernels unscale GradScaler's gradients themselves: the hook must scale λ·w up to match
    "sgd-momentum-fused": lambda g: torch.optim.SGD(g, lr=0.1, momentum=0.9, fused=True),
    "adam-fused": lambda g: torch.optim.Adam(g, lr=1e-2, fused=True),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_attached_l2_is_the_optimizers_own_weight_decay_bit_for_bit(name):
    """Attached, L2 adds λ·w to the gradients before the step, which is what torch's optimizers do
    with ``weight_decay`` (coupled): the same trajectory to the last bit, also through GradScaler
    (powers of two: unscaling is exact)."""
    make = OPTIMIZERS[name]
    ref = _trajectory(make, attach=False)
    for scaler in (False, True):
        got = _trajectory(make, attach=True, scaler=scaler)
        for a, b in zip(ref, got):
            torch.testing.assert_close(b, a, rtol=0, atol=0)
