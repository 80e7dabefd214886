import copy
import math

import pytest
import torch
import torch.nn.functional as F

import reglab as rl
from reglab.functional import elr_loss


class LoopELR:
    """ELR example by example with plain Python floats and a dict of targets."""

    def __init__(self, k, beta, lam):
        self.k, self.beta, self.lam, self.t = k, beta, lam, {}

    def __call__(self, logits, y, index):
        ce = reg = 0.0
        for z, label, i in zip(logits.tolist(), y.tolist(), index.tolist(), strict=True):
            m = max(z)
            e = [math.exp(v - m) for v in z]
            p = [v / sum(e) for v in e]
            ce += -math.log(p[label])
            pc = [min(max(v, 1e-4), 1 - 1e-4) for v in p]
            old = self.t.get(i, [0.0] * self.k)
            self.t[i] = [
                self.beta * o + (1 - self.beta) * v / sum(pc) for o, v in zip(old, pc, strict=True)
            ]
            reg += math.log(1 - sum(a * b for a, b in zip(self.t[i], pc, strict=True)))
        n = len(index)
        return ce / n + self.lam * reg / n


def batches(steps=6, n=5, k=4, num_examples=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        yield (
            torch.randn(n, k, generator=g, dtype=torch.float64) * 2,
            torch.randint(0, k, (n,), generator=g),
            torch.randperm(num_examples, generator=g)[:n],
        )


def test_matches_the_per_example_loop_over_several_steps():
    crit = rl.ELR(num_examples=9, num_classes=4, beta=0.6, strength=2.0).double()
    loop = LoopELR(4, beta=0.6, lam=2.0)
    for logits, y, index in batches():
        assert float(crit(logits, y, index)) == pytest.approx(loop(logits, y, index), rel=1e-12)
    for i, row in loop.t.items():
        assert crit.targets[i].tolist() == pytest.approx(row, rel=1e-12)


def test_regularizer_gradient_passes_gradcheck():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    targets = torch.softmax(torch.randn(4, 3, generator=g, dtype=torch.float64), 1) * 0.7
    y = torch.tensor([0, 2, 1, 1])
    assert torch.autograd.gradcheck(lambda z: elr_loss(z, y, targets, 3.0), (logits,))


def test_resume_from_state_dict_gives_the_identical_next_loss():
    data = list(batches(steps=5))
    crit = rl.ELR(num_examples=9, num_classes=4, strength=rl.schedules.linear(0.0, 3.0, steps=4))
    for logits, y, index in data[:3]:
        crit(logits.float(), y, index)
    state = copy.deepcopy(crit.state_dict())
    expected = [float(crit(z.float(), y, i)) for z, y, i in data[3:]]
    resumed = rl.ELR(num_examples=9, num_classes=4, strength=rl.schedules.linear(0.0, 3.0, steps=4))
    resumed.load_state_dict(state)
    assert [float(resumed(z.float(), y, i)) for z, y, i in data[3:]] == expected


def test_eval_mode_is_cross_entropy_and_updates_nothing():
    crit = rl.ELR(num_examples=9, num_classes=4).double().eval()
    logits, y, index = next(batches())
    torch.testing.assert_close(crit(logits, y), F.cross_entropy(logits, y))
    assert float(crit.targets.abs().sum()) == 0.0 and int(crit.strength.step) == 0


def test_bad_inputs_raise_clear_errors():
    crit = rl.ELR(num_examples=9, num_classes=4)
    logits, y = torch.randn(3, 4), torch.tensor([0, 1, 2])
    with pytest.raises(ValueError, match=r"index must lie in \[0, 9\)"):
        crit(logits, y, torch.tensor([0, 4, 9]))
    with pytest.raises(ValueError, match="index .* is required"):
        crit(logits, y)
    with pytest.raises(TypeError, match="needs integer class labels"):
        crit(logits, F.one_hot(y, 4).float(), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"class labels in \[0, 4\)"):
        crit(logits, torch.tensor([0, 1, 4]), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        crit(torch.randn(3, 5), y, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"beta must be in \[0, 1\)"):
        rl.ELR(9, 4, beta=1.0)


def test_recipe_refuses_mixup_before_elr():
    model = torch.nn.Linear(3, 4)
    with pytest.raises(ValueError, match="needs integer class labels"):
        rl.Recipe([rl.Mixup(0.2, 4), rl.ELR(9, 4), torch.optim.SGD(model.parameters(), lr=0.1)])
