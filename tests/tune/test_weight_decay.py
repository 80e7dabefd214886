"""learn_weight_decay: the hyper steps lower validation loss against the same run with (almost)
frozen decay; the decay penalty and the curves are what they say; with a tiny validation set and
one decay per weight the decays overfit it (slow: the paper's warning)."""

import copy

import pytest
import torch

import reglab as rl
from reglab.tune.weight_decay import decay_penalty


def problem(n_train, n_val, d=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(d, 3, generator=g)

    def data(n):
        x = torch.randn(n, d, generator=g)
        return x, (x @ w + 1.5 * torch.randn(n, 3, generator=g)).argmax(1)

    train, val, test = data(n_train), data(n_val), data(1000)
    torch.manual_seed(seed + 1)
    model = torch.nn.Sequential(torch.nn.Linear(d, 24), torch.nn.Tanh(), torch.nn.Linear(24, 3))
    return model, [train], [val], [test]


def test_decay_penalty_is_half_the_weighted_squared_norm():
    p = [torch.tensor([1.0, 2.0]), torch.tensor([[3.0]])]
    h = [torch.tensor(0.0), torch.tensor([[2.0]]).log()]
    assert float(decay_penalty(p, h)) == pytest.approx(0.5 * (5.0 + 2.0 * 9.0))


def test_hyper_steps_lower_validation_loss_on_a_tiny_problem():
    model, train, val, test = problem(30, 200)
    kwargs = dict(lr=0.2, inner_steps=15, hyper_steps=12, init_log_decay=-8.0)
    frozen = rl.learn_weight_decay(copy.deepcopy(model), train, val, test, hyper_lr=1e-6, **kwargs)
    learned = rl.learn_weight_decay(copy.deepcopy(model), train, val, test, hyper_lr=0.4, **kwargs)
    assert len(learned.val) == len(learned.train) == len(learned.test) == 13
    assert learned.val[0] == frozen.val[0]
    assert learned.val[-1] < frozen.val[-1] - 0.02
    assert all(float(v) > -8.0 for v in learned.log_decay.values())  # decay was raised
    assert learned.test[-1] < frozen.test[-1]


def test_per_element_decays_have_the_parameter_shapes_and_arguments_are_checked():
    model, train, val, _ = problem(10, 10)
    res = rl.learn_weight_decay(model, train, val, per=rl.DecayPer.ELEMENT, inner_steps=1,
                                hyper_steps=1)
    assert {n: tuple(t.shape) for n, t in res.log_decay.items()} == {
        n: tuple(p.shape) for n, p in model.named_parameters()}
    assert res.test == []
    with pytest.raises(ValueError, match="hyper_lr must be > 0"):
        rl.learn_weight_decay(model, train, val, hyper_lr=0.0)
    with pytest.raises(TypeError, match="val_batches"):
        rl.learn_weight_decay(model, train, [])
    with pytest.raises(ValueError, match="per"):
        rl.learn_weight_decay(model, train, val, per="layer")


@pytest.mark.slow
def test_tiny_validation_set_is_overfit_by_per_weight_decays():
    """Lorraine et al.'s warning: validation loss falls while test loss rises."""
    model, train, val, test = problem(40, 4, d=20)
    res = rl.learn_weight_decay(model, train, val, test, per=rl.DecayPer.ELEMENT, lr=0.2,
                                hyper_lr=0.1, inner_steps=10, hyper_steps=60, init_log_decay=-2.0)
    best = min(range(len(res.test)), key=res.test.__getitem__)
    # measured (seed 0): val 1.04 -> 0.13 and test 0.77 -> 1.14 from hyper step 12 to 60
    assert res.val[-1] < res.val[best] - 0.05  # still fitting the 4 validation examples
    assert res.test[-1] > res.test[best] + 0.05  # while test loss climbs
