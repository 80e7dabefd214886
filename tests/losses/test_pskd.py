import copy
import math

import pytest
import torch
import torch.nn.functional as F

import reglab as rl


class LoopPSKD:
    """PS-KD example by example: a dict of last predictions, α_T·min(t+1, T)/T per call."""

    def __init__(self, k, alpha_T, total):
        self.k, self.alpha_T, self.total, self.t, self.prev = k, alpha_T, total, 0, {}

    def __call__(self, logits, y, index):
        alpha = self.alpha_T * min(self.t + 1, self.total) / self.total
        self.t += 1
        loss, new = 0.0, {}
        for z, label, i in zip(logits.tolist(), y.tolist(), index.tolist(), strict=True):
            one_hot = [1.0 if c == label else 0.0 for c in range(self.k)]
            prev = self.prev.get(i, one_hot)
            target = [(1 - alpha) * o + alpha * q for o, q in zip(one_hot, prev, strict=True)]
            lse = math.log(sum(math.exp(v) for v in z))
            loss += -sum(tk * (zk - lse) for tk, zk in zip(target, z, strict=True))
            new[i] = [math.exp(v - lse) for v in z]
        self.prev.update(new)
        return loss / len(index)


def batches(steps=7, n=4, k=3, num_examples=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        yield (
            torch.randn(n, k, generator=g, dtype=torch.float64) * 2,
            torch.randint(0, k, (n,), generator=g),
            torch.randperm(num_examples, generator=g)[:n],
        )


def test_matches_the_per_example_loop_including_first_visits_and_the_ramp_end():
    crit = rl.PSKD(num_examples=6, num_classes=3, alpha_T=0.8, total_steps=4).double()
    loop = LoopPSKD(3, alpha_T=0.8, total=4)
    for logits, y, index in batches():  # 7 calls: α reaches α_T at the 4th and stays
        assert float(crit(logits, y, index)) == pytest.approx(loop(logits, y, index), rel=1e-12)
    for i, row in loop.prev.items():
        assert crit.predictions[i].tolist() == pytest.approx(row, rel=1e-12)
    assert crit.alpha() == pytest.approx(0.8)


def test_first_visit_is_plain_cross_entropy():
    crit = rl.PSKD(num_examples=6, num_classes=3, alpha_T=0.8, total_steps=2).double()
    logits, y, index = next(batches())
    torch.testing.assert_close(crit(logits, y, index), F.cross_entropy(logits, y))
    assert crit.seen[index].all() and int(crit.seen.sum()) == 4


def test_resume_from_state_dict_gives_the_identical_next_loss():
    data = list(batches())
    crit = rl.PSKD(num_examples=6, num_classes=3, total_steps=5)
    for logits, y, index in data[:3]:
        crit(logits.float(), y, index)
    state = copy.deepcopy(crit.state_dict())
    expected = [float(crit(z.float(), y, i)) for z, y, i in data[3:]]
    resumed = rl.PSKD(num_examples=6, num_classes=3, total_steps=5)
    resumed.load_state_dict(state)
    assert [float(resumed(z.float(), y, i)) for z, y, i in data[3:]] == expected


def test_eval_mode_is_cross_entropy_and_bad_inputs_raise():
    crit = rl.PSKD(num_examples=6, num_classes=3, total_steps=5)
    logits, y = torch.randn(2, 3), torch.tensor([0, 2])
    crit.eval()
    torch.testing.assert_close(crit(logits, y), F.cross_entropy(logits, y))
    assert int(crit.step) == 0 and not crit.seen.any()
    crit.train()
    with pytest.raises(ValueError, match=r"index must lie in \[0, 6\)"):
        crit(logits, y, torch.tensor([1, 6]))
    with pytest.raises(TypeError, match="needs integer class labels"):
        crit(logits, F.one_hot(y, 3).float(), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="total_steps must be >= 1"):
        rl.PSKD(6, 3, total_steps=0)
    with pytest.raises(TypeError, match="total_steps"):
        rl.PSKD(6, 3)
