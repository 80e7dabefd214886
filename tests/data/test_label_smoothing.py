import copy

import pytest
import torch
import torch.nn.functional as F

import reglab as rl


@pytest.mark.parametrize("theta", [0.05, 0.1, 0.3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_constant_smoothing_equals_torch_label_smoothing(theta, dtype):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(16, 7, generator=g, dtype=dtype)
    y = torch.randint(0, 7, (16,), generator=g)
    _, soft = rl.LabelSmoothing(theta, num_classes=7)(logits, y)
    assert soft.dtype == dtype
    got = rl.soft_cross_entropy(logits, soft)
    torch.testing.assert_close(
        got, F.cross_entropy(logits, y, label_smoothing=theta), rtol=0, atol=1e-6
    )


def test_targets_are_the_formula_row_by_row_also_for_soft_inputs():
    soft = torch.softmax(torch.randn(4, 5, dtype=torch.float64), dim=1)
    x = torch.randn(4, 3, dtype=torch.float64)
    x2, out = rl.LabelSmoothing(0.2)(x, soft)
    assert x2 is x
    for i in range(4):
        for k in range(5):
            assert float(out[i, k]) == pytest.approx(0.8 * float(soft[i, k]) + 0.2 / 5, abs=1e-15)


def test_two_stage_schedule_switches_to_one_hot_after_t_steps_and_resumes():
    x, y = torch.randn(2, 3), torch.tensor([1, 2])
    tsla = rl.LabelSmoothing(rl.schedules.early(0.3, until=3), num_classes=4)
    one_hot = F.one_hot(y, 4).float()
    seen = [tsla(x, y)[1] for _ in range(2)]
    state = copy.deepcopy(tsla.state_dict())
    seen += [tsla(x, y)[1] for _ in range(2)]
    torch.testing.assert_close(seen[0], 0.7 * one_hot + 0.3 / 4)
    torch.testing.assert_close(seen[2], 0.7 * one_hot + 0.3 / 4)
    assert torch.equal(seen[3], one_hot)
    resumed = rl.LabelSmoothing(rl.schedules.early(0.3, until=3), num_classes=4)
    resumed.load_state_dict(state)
    assert torch.equal(resumed(x, y)[1], seen[2]) and torch.equal(resumed(x, y)[1], seen[3])


def test_eval_mode_gives_one_hot_without_advancing_the_schedule():
    x, y = torch.randn(2, 3), torch.tensor([1, 2])
    ls = rl.LabelSmoothing(0.1, num_classes=4).eval()
    assert torch.equal(ls(x, y)[1], F.one_hot(y, 4).float())
    assert int(ls.smoothing.step) == 0


def test_integer_inputs_get_default_dtype_targets_and_bad_arguments_raise():
    tokens = torch.randint(0, 9, (3, 5))
    _, soft = rl.LabelSmoothing(0.1, num_classes=4)(tokens, torch.tensor([0, 1, 3]))
    assert soft.dtype == torch.get_default_dtype()
    with pytest.raises(ValueError, match=r"smoothing must be in \[0, 1\)"):
        rl.LabelSmoothing(1.0, num_classes=4)
    with pytest.raises(ValueError, match="at every step"):
        rl.LabelSmoothing(rl.schedules.linear(0.0, 1.2, steps=5))
    with pytest.raises(ValueError, match="need num_classes"):
        rl.LabelSmoothing(0.1)(tokens, torch.tensor([0, 1, 3]))
