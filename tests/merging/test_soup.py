"""Model soups against hand-averaged state dicts; greedy selection on a case where a member hurts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import reglab as rl


def _dicts(n: int, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [
        {"a": torch.randn(3, 2, generator=g, dtype=torch.float64), "b": torch.randn(4, generator=g),
         "n": torch.tensor(7 + i)}
        for i in range(n)
    ]


def test_uniform_soup_equals_hand_average() -> None:
    dicts = _dicts(3)
    soup = rl.uniform_soup(dicts)
    for key in ("a", "b"):
        hand = (dicts[0][key] + dicts[1][key] + dicts[2][key]) / 3
        torch.testing.assert_close(soup[key], hand, rtol=1e-6, atol=1e-7)
        assert soup[key].dtype == dicts[0][key].dtype
    assert int(soup["n"]) == 7  # integer buffers come from the first member
    assert soup["a"] is not dicts[0]["a"]


def test_soup_refuses_different_keys_or_shapes_naming_the_key() -> None:
    dicts = _dicts(2)
    with pytest.raises(ValueError, match="'b'"):
        rl.uniform_soup([dicts[0], {k: v for k, v in dicts[1].items() if k != "b"}])
    with pytest.raises(ValueError, match="'a'.*shape"):
        rl.uniform_soup([dicts[0], {**dicts[1], "a": torch.zeros(2, 3, dtype=torch.float64)}])
    with pytest.raises(ValueError, match="at least 1"):
        rl.greedy_soup([], lambda sd: 0.0)


def test_greedy_soup_leaves_out_a_member_that_hurts() -> None:
    # Held-out score: minus the distance to a target. Members 0 and 1 sit on either side of the
    # target (their average hits it); member 2 is far away, so adding it hurts.
    target = torch.tensor([1.0, 1.0])
    dicts = [{"w": torch.tensor([0.0, 1.0])}, {"w": torch.tensor([2.0, 1.0])},
             {"w": torch.tensor([1.0, 9.0])}]
    calls = []

    def evaluate(sd: dict[str, torch.Tensor]) -> float:
        calls.append(sd["w"].clone())
        return -float((sd["w"] - target).norm())

    soup = rl.greedy_soup(dicts, evaluate)
    assert soup.members == [0, 1]
    torch.testing.assert_close(soup.state_dict["w"], target)
    assert soup.score == 0.0
    assert len(calls) == 3 + 2  # each member once, then one candidate per remaining member
    # the uniform soup takes the bad member in and is worse than the greedy soup
    assert evaluate(rl.uniform_soup(dicts)) < soup.score


def test_greedy_soup_sorts_by_score_and_needs_strict_improvement() -> None:
    # member 2 is best alone; member 0 equals member 2 (no strict gain), member 1 is worse
    dicts = [{"w": torch.tensor([1.0])}, {"w": torch.tensor([5.0])}, {"w": torch.tensor([1.0])}]
    soup = rl.greedy_soup(dicts, lambda sd: -abs(float(sd["w"]) - 1.0))
    assert soup.members == [0]  # ties keep input order: 0 before 2; adding 2 does not improve
    torch.testing.assert_close(soup.state_dict["w"], torch.tensor([1.0]))


def _bn_net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


def test_recalibrate_batchnorm_matches_statistics_of_the_data() -> None:
    net = _bn_net(0)
    g = torch.Generator().manual_seed(1)
    batches = [torch.randn(32, 3, generator=g) * 2 + 1 for _ in range(4)]
    net.eval()
    rl.recalibrate_batchnorm(net, [(x, None) for x in batches])
    assert not net.training and net[1].momentum == 0.1
    with torch.no_grad():
        h = torch.cat([net[0](x) for x in batches])
    # cumulative average of per-batch means (equal batches: the overall mean) and unbiased variances
    torch.testing.assert_close(net[1].running_mean, h.mean(0), rtol=1e-5, atol=1e-6)
    per_batch_var = torch.stack([net[0](x).var(0, unbiased=True) for x in batches]).mean(0).detach()
    torch.testing.assert_close(net[1].running_var, per_batch_var, rtol=1e-5, atol=1e-6)


def test_recalibrate_batchnorm_refuses_models_without_it() -> None:
    with pytest.raises(ValueError, match="no BatchNorm"):
        rl.recalibrate_batchnorm(nn.Linear(2, 2), [torch.zeros(1, 2)])
    with pytest.raises(ValueError, match="at least one batch"):
        rl.recalibrate_batchnorm(_bn_net(0), [])


def test_soup_with_recalibration_returns_statistics_of_the_averaged_weights() -> None:
    dicts = [{k: v.clone() for k, v in _bn_net(s).state_dict().items()} for s in (0, 1)]
    batches = [torch.randn(16, 3, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    model = _bn_net(5)
    soup = rl.uniform_soup(dicts, model=model, batches=batches)
    plain = rl.uniform_soup(dicts)
    torch.testing.assert_close(soup["0.weight"], plain["0.weight"])
    check = _bn_net(6)
    check.load_state_dict(plain)
    rl.recalibrate_batchnorm(check, batches)
    torch.testing.assert_close(soup["1.running_mean"], check[1].running_mean)
    assert not torch.allclose(soup["1.running_mean"], plain["1.running_mean"])
    with pytest.raises(ValueError, match="batches"):
        rl.uniform_soup(dicts, model=model)


def test_a_recipe_cannot_add_a_weights_function_without_apply():
    import pytest

    from reglab.bench.recipes import parse_recipe

    with pytest.raises(ValueError, match="weights 'model-soup' has no apply function"):
        parse_recipe({"methods": ["model-soup"]}, "r")
    parse_recipe({"methods": [{"half-finetuning": {"keep_head": True}}]}, "r")  # it has one
