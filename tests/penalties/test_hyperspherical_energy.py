import math

import pytest
import torch

import reglab as rl
from reglab import functional as RF


def reference(params, power, half_space):
    total = 0.0
    for p in params:
        if p.ndim < 2:
            continue
        rows = [r.reshape(-1) / r.norm() for r in p]
        if half_space:
            rows = rows + [-r for r in rows]
        n = len(rows)
        e = 0.0
        for i in range(n):
            for j in range(n):
                if i != j:
                    z = (rows[i] - rows[j]).norm()
                    e = e + (torch.log(1 / z) if power == 0 else z ** (-power))
        total = total + e / (n * (n - 1))
    return total


def tensors(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=g, dtype=torch.float64) for s in [(5, 4), (7,), (3, 2, 2, 2)]]


@pytest.mark.parametrize("power", [0.0, 1.0, 2.0, 0.5])
@pytest.mark.parametrize("half_space", [False, True])
def test_value_equals_pair_loop(power, half_space):
    ps = tensors()
    torch.testing.assert_close(RF.hyperspherical_energy(ps, power, half_space), reference(ps, power, half_space))
    pen = rl.HypersphericalEnergy(ps, strength=0.3, power=power, half_space=half_space)
    torch.testing.assert_close(pen(), 0.3 * reference(ps, power, half_space))


@pytest.mark.parametrize("power", [0.0, 2.0])
@pytest.mark.parametrize("half_space", [False, True])
def test_gradcheck_float64(power, half_space):
    ps = [p.clone().requires_grad_() for p in tensors(1) if p.ndim >= 2]
    assert torch.autograd.gradcheck(lambda *xs: RF.hyperspherical_energy(list(xs), power, half_space), ps)


def test_scale_invariant_and_lower_when_spread():
    w = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)
    bunched = torch.tensor([[1.0, 0.0], [1.0, 0.1], [1.0, -0.1]], dtype=torch.float64)
    e = RF.hyperspherical_energy([w], 1.0)
    torch.testing.assert_close(RF.hyperspherical_energy([5 * w], 1.0), e)
    assert float(RF.hyperspherical_energy([bunched], 1.0)) > float(e)


def test_half_space_penalizes_antipodal_neurons_the_full_space_does_not():
    w = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64)
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    assert float(RF.hyperspherical_energy([w], 1.0)) < float(RF.hyperspherical_energy([q], 1.0))
    assert float(RF.hyperspherical_energy([w], 1.0, True)) > float(RF.hyperspherical_energy([q], 1.0, True))
    assert math.isfinite(float(RF.hyperspherical_energy([w], 1.0, True)))  # coincident points floored


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="power"):
        rl.HypersphericalEnergy([torch.ones(2, 2)], power=-1.0)
    with pytest.raises(TypeError, match="half_space"):
        rl.HypersphericalEnergy([torch.ones(2, 2)], half_space=1)
    with pytest.raises(ValueError, match="2 or more rows"):
        rl.HypersphericalEnergy([torch.ones(1, 2)])
