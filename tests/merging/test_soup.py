"""Model soups against hand-averaged state dicts; greedy selection on a case where a member hurts."""

from __future__ import annotations

import pytest
import torch

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


def test_a_recipe_cannot_add_a_weights_function_without_apply():
    import pytest

    from reglab.bench.recipes import parse_recipe

    with pytest.raises(ValueError, match="weights 'model-soup' has no apply function"):
        parse_recipe({"methods": ["model-soup"]}, "r")
    parse_recipe({"methods": [{"half-finetuning": {"keep_head": True}}]}, "r")  # it has one
