import math

import pytest
import torch

from reglab.bench.optimizers import OptimizerSpec


def test_cosine_schedule_per_step_and_constant():
    spec = OptimizerSpec(name="sgd", lr=0.1, momentum=0.9, nesterov=True, schedule="cosine")
    assert spec.lr_at(1, 10) == pytest.approx(0.1)
    assert spec.lr_at(6, 10) == pytest.approx(0.05)
    assert spec.lr_at(10, 10) == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 0.9)))
    assert OptimizerSpec(lr=0.3).lr_at(7, 10) == 0.3
    warm = OptimizerSpec(lr=1.0, schedule="cosine", warmup=0.2)
    assert [warm.lr_at(t, 10) for t in (1, 2, 3)] == pytest.approx([0.5, 1.0, 1.0])
    assert warm.lr_at(7, 10) == pytest.approx(0.5)  # half-way through the 8 cosine steps


def test_build_passes_every_hyperparameter():
    params = [torch.nn.Parameter(torch.ones(2))]
    sgd = OptimizerSpec(name="sgd", lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3).build(
        params
    )
    assert (
        sgd.defaults["nesterov"]
        and sgd.defaults["weight_decay"] == 1e-3
        and sgd.defaults["momentum"] == 0.9
    )
    adamw = OptimizerSpec(
        name="adamw", lr=0.01, betas=(0.9, 0.99), eps=1e-25, weight_decay=1.0
    ).build(params)
    assert isinstance(adamw, torch.optim.AdamW) and adamw.defaults["eps"] == 1e-25
    assert adamw.defaults["betas"] == (0.9, 0.99)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lr": 0}, "optimizer.lr must be > 0"),
        ({"name": "adma"}, "did you mean 'adam'"),
        ({"name": "sgd", "nesterov": True}, "nesterov needs"),
        ({"betas": (0.9,)}, "optimizer.betas must be two numbers"),
        ({"schedule": "linear"}, "optimizer.schedule must be one of constant, cosine"),
    ],
)
def test_bad_specs_name_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        OptimizerSpec(**kwargs)
